"""Small pieces the methods share: weight init, optimizers, LSGAN and face-weighted L1 losses,
loss reporting."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from trainer.data import training_augment
from vidswap.faces.align import face_ellipse


def init_weights(net: nn.Module, gain: float, kind: str = "normal") -> nn.Module:
    """The reference init: conv/linear weights N(0, gain) (or Xavier-normal with that gain,
    as CUT does), biases 0; batch-norm scales N(1, gain) (class-conditional ones keep their own init)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if kind == "xavier":
                nn.init.xavier_normal_(m.weight, gain=gain)
            else:
                nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


def adam(modules: Iterable[nn.Module], cfg) -> torch.optim.Adam:
    params = [p for m in modules for p in m.parameters()]
    return torch.optim.Adam(params, lr=cfg.train.lr, betas=(cfg.train.beta1, cfg.train.beta2))


def lsgan(pred: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss against an all-ones (real) or all-zeros (fake) target."""
    pred = pred.float()
    return F.mse_loss(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))


def face_weights(cfg, device: torch.device) -> torch.Tensor | None:
    """[1, 1, S, S] per-pixel weights of a training crop for the losses that compare images:
    1 on the face, 1 - train.face_mask on the background; None when the mask is off. The face's
    place is the alignment template's after the loader's resize and (on average centred) crop."""
    if cfg.train.face_mask == 0:
        return None
    aug = training_augment(cfg.data)
    border = (aug.load_size - aug.size) // 2
    face = face_ellipse(aug.load_size)[border : border + aug.size, border : border + aug.size]
    weights = 1 - cfg.train.face_mask * (1 - torch.from_numpy(face))
    return weights[None, None].to(device)


def image_l1(x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute difference, each pixel counted by `weights` (face_weights) when given."""
    if weights is None:
        return F.l1_loss(x.float(), y.float())
    return ((x.float() - y.float()).abs() * weights).mean() / weights.mean()


def image_dssim(x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Structural dissimilarity (1 - SSIM) / 2 of images in [-1, 1] (Wang et al. 2004; Gaussian
    window, sigma 1.5, 7 px wide so a 64 px crop has room), each pixel counted by `weights` when given."""
    x, y = (x.float() + 1) / 2, (y.float() + 1) / 2
    taps = torch.exp(-((torch.arange(7, device=x.device) - 3.0) ** 2) / (2 * 1.5**2))
    window = (taps / taps.sum()).view(1, 1, 1, 7).repeat(x.shape[1], 1, 1, 1)

    def blur(z: torch.Tensor) -> torch.Tensor:  # separable, each channel alone, no padding
        z = F.conv2d(z, window, groups=z.shape[1])
        return F.conv2d(z, window.transpose(2, 3), groups=z.shape[1])

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    ssim = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    dssim = (1 - ssim) / 2
    if weights is None:
        return dssim.mean()
    w = weights[..., 3:-3, 3:-3].expand_as(dssim)  # the valid window's centres
    return (dssim * w).mean() / w.mean()


def scalars(losses: dict[str, torch.Tensor]) -> dict[str, float]:
    """Loss tensors -> floats with a single device sync."""
    values = torch.stack([v.detach().float() for v in losses.values()]).tolist()
    return dict(zip(losses, values, strict=True))


@contextlib.contextmanager
def frozen(*nets: nn.Module) -> Iterator[None]:
    """No weight gradients for `nets` inside (their activations still pass gradients through)."""
    for net in nets:
        net.requires_grad_(False)
    try:
        yield
    finally:
        for net in nets:
            net.requires_grad_(True)
