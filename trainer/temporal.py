"""Temporal stability trained into a generator (`train.temporal` > 0): a small change of the
input must give the same change of the output, so frame-by-frame translation does not flicker.

transform (Eilertsen et al. 2019, single-frame regularisation; needs no video): the second
    input is T(x) for a small random shift, rotation and zoom T of the crop, and the loss is
    |G(T(x)) - T(G(x))|^2 over the pixels that T keeps inside the crop.
flow (training sets extracted from clips): the second input is the next frame of x's clip,
    paired with the flow from it back to x by the loader (trainer/data.py), and the loss is
    |G(x_next) - warp(G(x))|^2 over the pixels that the flow check trusts.

Both are one computation: a second input, a grid that samples G(x) into its geometry and a
mask. A method calls `TemporalLoss` for each generator it trains, with the input and the
translation its step already made, so the cost is one more generator pass (and its backward).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer.runtime import Runtime

# the largest random transform: about the motion of a face between two frames
MAX_SHIFT = 0.03  # fraction of the crop (1 px at 32, 8 px at 256)
MAX_ROTATION = 3.0  # degrees
MAX_ZOOM = 0.03  # relative scale change


@dataclass
class Pair:
    second: torch.Tensor  # B,3,H,W: the second input
    grid: torch.Tensor  # B,H,W,2: where each pixel of the second input lies in the first (grid_sample's units)
    mask: torch.Tensor  # B,1,H,W: 1 where the two outputs are compared

    def flipped(self) -> Pair:
        """The same pair mirrored left to right (FastCUT's flipped steps)."""
        mirror = torch.tensor([-1.0, 1.0], device=self.grid.device, dtype=self.grid.dtype)
        return Pair(self.second.flip(3), self.grid.flip(2) * mirror, self.mask.flip(3))


def resample(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def transform_pair(x: torch.Tensor) -> Pair:
    """x and a random small similarity transform of it (torch's RNG, so checkpointed runs repeat it)."""
    b, _, h, w = x.shape
    u = torch.rand(b, 4, device=x.device) * 2 - 1
    angle = u[:, 0] * math.radians(MAX_ROTATION)
    scale = 1 + u[:, 1] * MAX_ZOOM
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack(
        [torch.stack([cos, -sin, u[:, 2] * 2 * MAX_SHIFT], 1), torch.stack([sin, cos, u[:, 3] * 2 * MAX_SHIFT], 1)], 1
    )
    grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
    inside = F.grid_sample(x.new_ones(b, 1, h, w), grid, padding_mode="zeros", align_corners=False) > 0.999
    return Pair(resample(x, grid), grid, inside.to(x.dtype))


def flow_grid(flow: torch.Tensor) -> torch.Tensor:
    """A flow B,2,H,W in pixels -> the grid_sample grid of the positions x + flow(x)."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=flow.device, dtype=flow.dtype),
        torch.arange(w, device=flow.device, dtype=flow.dtype),
        indexing="ij",
    )
    gx = (2 * (xs + flow[:, 0]) + 1) / w - 1
    gy = (2 * (ys + flow[:, 1]) + 1) / h - 1
    return torch.stack([gx, gy], -1)


class TemporalLoss:
    """weight * the masked mean squared difference of G(second input) and G(x) brought into its geometry."""

    def __init__(self, weight: float, mode: str, rt: Runtime):
        self.weight, self.mode, self.rt = weight, mode, rt

    def pair(self, batch: dict[str, torch.Tensor], domain: str, x: torch.Tensor, flipped: bool = False) -> Pair:
        if self.mode == "transform":
            return transform_pair(x)
        rt = self.rt
        pair = Pair(
            rt.inputs(batch[f"{domain}_next"]),
            flow_grid(batch[f"{domain}_flow"].to(rt.device)),
            batch[f"{domain}_valid"].to(rt.device),
        )
        return pair.flipped() if flipped else pair

    def __call__(
        self,
        generator: Callable[[torch.Tensor], torch.Tensor],
        x: torch.Tensor,
        out: torch.Tensor,
        batch: dict[str, torch.Tensor],
        domain: str,
        flipped: bool = False,
    ) -> torch.Tensor:
        """`out` = generator(x), from the method's own pass; x is the batch's `domain` images
        (mirrored when `flipped`)."""
        pair = self.pair(batch, domain, x, flipped)
        return self.weight * consistency(generator(pair.second), resample(out, pair.grid), pair.mask)


def consistency(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared difference over the masked pixels (and the channels)."""
    mask = mask.float()
    return ((a.float() - b.float()) ** 2 * mask).sum() / (mask.sum() * a.shape[1]).clamp_min(1)


def temporal_loss(cfg, rt: Runtime) -> TemporalLoss | None:
    """The regulariser a method adds to its generator loss, or None when train.temporal is 0."""
    t = cfg.train
    return TemporalLoss(t.temporal, t.temporal_mode, rt) if t.temporal > 0 else None
