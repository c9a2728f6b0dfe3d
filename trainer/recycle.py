"""Recycle-GAN's recurrent temporal losses (Bansal et al. 2018), CycleGAN's `train.recycle` > 0.

A temporal predictor per domain, P_A and P_B, predicts a clip's frame t+1 from frames t-1 and t
(their channels concatenated). Trained on three consecutive crops of a clip (trainer/data.py
draws them), each domain adds two losses, weighted by train.recycle:

    recurrent:  |P_A(x_{t-1}, x_t) - x_{t+1}|                    the predictor learns A's motion
    recycle:    |G_B(P_B(G_A(x_{t-1}), G_A(x_t))) - x_{t+1}|     translated, moved on in B, brought back

so a translation must keep what lets the next frame be predicted: the source's motion. The paper
also puts the adversarial and cycle losses on all three frames; here they stay on the first (the
cost of one more generator pass a domain, not three).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from trainer.methods.common import image_l1
from vidswap.nets.generators import ResnetGenerator

Net = Callable[[torch.Tensor], torch.Tensor]


def predictor(net_cfg) -> ResnetGenerator:
    """A temporal predictor: the generator's layout with two frames (6 channels) in."""
    n = net_cfg
    return ResnetGenerator(in_channels=6, ngf=n.ngf, n_blocks=n.n_blocks, n_downsampling=n.n_downsampling,
                           norm=n.norm, antialias=n.antialias)  # fmt: skip


def predict(p: Net, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    return p(torch.cat([first, second], 1))


def recycle_losses(
    translate: Net,
    back: Net,
    own_predictor: Net,
    other_predictor: Net,
    frames: Sequence[torch.Tensor],
    first_translated: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (recurrent, recycle) losses of one domain, unweighted. frames: a clip's frames t-1, t,
    t+1 (each B,3,H,W); first_translated: translate(frames t-1), from the method's own pass;
    weights: the face mask's pixel weights (face_weights), or None."""
    before, now, after = frames
    recurrent = image_l1(predict(own_predictor, before, now), after, weights)
    recycled = back(predict(other_predictor, first_translated, translate(now)))
    return recurrent, image_l1(recycled, after, weights)
