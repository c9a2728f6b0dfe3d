"""Bringing a translation made at a smaller scale back to the frame's size with the frame's
own edges (`--work-size`).

A fast guided filter (He & Sun 2015) fitted at the small scale: in each window the
translation is modelled as an affine map of the input's colour (3 x 3 gains and an offset);
the maps, smoothed, are upsampled and applied to the full-size input, so an edge comes back
as sharp as the input has it, in the translation's colours (an inverted or recoloured edge
too, where adding the input's own detail back would draw it in the input's colours). What
the affine maps cannot express (a style model's brush strokes) is then put back: the
difference between the small translation and the result shrunk to its size, upsampled.
Measured against other ways in scripts/bench_workscale.py.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

RADIUS = 2  # the window's radius, in pixels of the small scale
EPS = 1e-3  # regularisation of the gains (in [0, 1] units squared): flatter input, weaker gains


def shrink(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def enlarge(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _box(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2 * RADIUS + 1, stride=1, padding=RADIUS, count_include_pad=False)


def guided_upsample(full: torch.Tensor, small: torch.Tensor, translated: torch.Tensor) -> torch.Tensor:
    """The translation of `full` (N x 3 x H x W, in [-1, 1]), given `translated`, the
    translation of `small` (`full` shrunk)."""
    n, _, h, w = small.shape
    guide, target = small.add(1).div(2), translated.float().add(1).div(2)
    mean_i, mean_p = _box(guide), _box(target)
    # per pixel: the guide's 3 x 3 covariance and its 3 x 3 covariance with the translation
    var_i = torch.stack([_box(guide[:, k : k + 1] * guide) for k in range(3)], 1) - mean_i[:, :, None] * mean_i[:, None]
    cov_ip = (
        torch.stack([_box(target[:, c : c + 1] * guide) for c in range(3)], 1) - mean_p[:, :, None] * mean_i[:, None]
    )
    var_i = var_i.permute(0, 3, 4, 1, 2) + EPS * torch.eye(3, device=full.device)
    gains = torch.linalg.solve(var_i, cov_ip.permute(0, 3, 4, 2, 1)).transpose(-1, -2)  # cov_ip var_i^-1
    gains = gains.permute(0, 3, 4, 1, 2)  # n, out colour, in colour, h, w
    offsets = mean_p - torch.einsum("ncihw,nihw->nchw", gains, mean_i)
    size = full.shape[2:]
    gains = enlarge(_box(gains.reshape(n, 9, h, w)), size).reshape(n, 3, 3, *size)
    result = torch.einsum("ncihw,nihw->nchw", gains, full.add(1).div(2)) + enlarge(_box(offsets), size)
    result = result.mul_(2).sub_(1)
    return result.add_(enlarge(translated.float() - shrink(result, (h, w)), size))
