"""Bringing a translation made at a smaller scale back to the frame's size with the frame's
own edges (`--work-size`).

A fast guided filter (He & Sun 2015) fitted at the small scale: in each window the
translation is modelled as an affine map of the input's colour (3 x 3 gains and an offset);
the maps, smoothed, are upsampled and applied to the full-size input, so an edge comes back
as sharp as the input has it, in the translation's colours (an inverted or recoloured edge
too, where adding the input's own detail back would draw it in the input's colours). What
the affine maps cannot express (a style model's brush strokes) is kept: at the small scale
the offsets take all that the gains leave unexplained, so the result shrunk is again the
small translation (back-projection). Measured against other ways in scripts/bench_workscale.py.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# measured in scripts/bench_workscale.py: a wide window fits the gains on the structures a
# network reproduces at the small scale, not on the fine ones it blurs there (radius 2 drew a
# softer eye in the sepia network's crop, 0.3 dB and 2.5 dB lower on its two known answers)
RADIUS = 8  # the window's radius, in pixels of the small scale
EPS = 1e-4  # regularisation of the gains (in [0, 1] units squared): flatter input, weaker gains


def shrink(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def enlarge(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _box(x: torch.Tensor) -> torch.Tensor:
    """The mean over each pixel's window (separable; at the borders, over the part inside)."""
    side = 2 * RADIUS + 1
    x = F.avg_pool2d(x, (side, 1), stride=1, padding=(RADIUS, 0), count_include_pad=False)
    return F.avg_pool2d(x, (1, side), stride=1, padding=(0, RADIUS), count_include_pad=False)


# the distinct entries of the guide's symmetric 3 x 3 covariance
_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def guided_upsample(full: torch.Tensor, small: torch.Tensor, translated: torch.Tensor) -> torch.Tensor:
    """The translation of `full` (N x 3 x H x W, in [-1, 1]), given `translated`, the
    translation of `small` (`full` shrunk)."""
    n, _, h, w = small.shape
    guide, target = small.add(1).div(2), translated.float().add(1).div(2)
    products = [guide[:, i : i + 1] * guide[:, j : j + 1] for i, j in _PAIRS]
    means = _box(torch.cat([guide, target, *products, *(target[:, c : c + 1] * guide for c in range(3))], 1))
    mean_i, mean_p = means[:, :3], means[:, 3:6]
    a, b, c, d, e, f = (means[:, 6 + k] - mean_i[:, i] * mean_i[:, j] for k, (i, j) in enumerate(_PAIRS))
    a, d, f = a + EPS, d + EPS, f + EPS
    # the covariance's inverse in closed form (its cofactors over its determinant): batched LAPACK is slower
    cofactors = (d * f - e * e, c * e - b * f, b * e - c * d, a * f - c * c, b * c - a * e, a * d - b * b)
    inverse = torch.stack(cofactors, 1)[:, [0, 1, 2, 1, 3, 4, 2, 4, 5]].reshape(n, 3, 3, h, w)
    inverse = inverse / (a * cofactors[0] + b * cofactors[1] + c * cofactors[2])[:, None, None]
    cross = means[:, 12:].reshape(n, 3, 3, h, w) - mean_p[:, :, None] * mean_i[:, None]  # out colour, in colour
    gains = _box(torch.einsum("ncjhw,njkhw->nckhw", cross, inverse).reshape(n, 9, h, w)).reshape(n, 3, 3, h, w)
    # back-projection, at the small scale: the offsets take all that the gains leave unexplained there
    # (the guided filter's own offsets, mean_p - gains . mean_i smoothed, are their local mean)
    offsets = target - torch.einsum("nckhw,nkhw->nchw", gains, guide)
    maps = enlarge(torch.cat([gains.reshape(n, 9, h, w), offsets], 1), full.shape[2:])
    result = torch.einsum("nckhw,nkhw->nchw", maps[:, :9].reshape(n, 3, 3, *full.shape[2:]), full.add(1).div(2))
    return result.add_(maps[:, 9:]).mul_(2).sub_(1)
