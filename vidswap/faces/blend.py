"""Paste translated crops back into their frames: inverse warp, a feathered mask and
optional colour matching. Pixels the mask does not reach are the frame's own."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import cv2
import numpy as np

from vidswap.errors import ConfigError
from vidswap.faces.align import Alignment, face_ellipse, reach, warp_to_crop, warp_to_frame


def crop_mask(size: tuple[int, int], erode: float = 0.05, blur: float = 0.1) -> np.ndarray:
    """A float32 mask in crop space: 0 at the edges rising smoothly to 1 inside.

    `erode` (the zero band) and `blur` (the width of the ramp) are fractions of the
    crop's shorter side, so the seam lands inside the crop, not on its border, and
    the mask is exactly 0 there (pixels it does not reach stay the frame's own)."""
    if not (0 <= erode < 0.5 and 0 <= blur < 0.5):
        raise ConfigError(f"mask erode and blur must be in [0, 0.5), got {erode}, {blur}")
    w, h = size
    side = min(w, h)
    # distance of each pixel centre from the nearest crop edge, less the eroded band
    x = np.minimum(np.arange(w) + 0.5, w - 0.5 - np.arange(w))
    y = np.minimum(np.arange(h) + 0.5, h - 0.5 - np.arange(h))
    dist = np.minimum(x[None, :], y[:, None]) - erode * side
    ramp = max(blur * side, 1e-6)
    t = np.clip(dist / ramp, 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)  # smoothstep: no kink where it meets 1


@functools.lru_cache(maxsize=16)
def paste_mask(size: tuple[int, int], erode: float, blur: float, face_margin: float | None) -> np.ndarray:
    """The crop-space mask paste_back blends with: crop_mask, and with `face_margin` (the
    alignment's template margin) only the face's ellipse, for models trained to neglect the
    background (train.face_mask), whose crops' background must not be pasted. The same for
    every face of a clip, so made once (read-only): paste_back and paste_region both use it."""
    mask = crop_mask(size, erode, blur)
    if face_margin is not None:
        mask = mask * face_ellipse(size[0], face_margin)
    mask.setflags(write=False)
    return mask


def paste_region(
    alignments: Sequence[Alignment], erode: float = 0.05, blur: float = 0.1, face_margin: float | None = None
) -> np.ndarray | None:
    """HxW bool: the frame pixels paste_back can change for these alignments (its masks
    above 0); None without alignments."""
    if not alignments:
        return None
    width, height = alignments[0].frame_size
    region = np.zeros((height, width), bool)
    for alignment in alignments:
        x0, y0, x1, y1 = window = reach(alignment)
        if x1 > x0 and y1 > y0:
            mask = warp_to_frame(paste_mask(alignment.size, erode, blur, face_margin), alignment, window)
            region[y0:y1, x0:x1] |= mask > 0
    return region


def match_color(crop: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """`crop` with its Lab mean and spread moved to those of `reference` (both uint8
    RGB, same size), measured where `mask` (weights) is set."""
    src = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    w = np.ones(crop.shape[:2], np.float32) if mask is None else mask.astype(np.float32)
    total = max(float(w.sum()), 1e-6)

    def stats(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = (img * w[..., None]).sum((0, 1)) / total
        std = np.sqrt(((img - mean) ** 2 * w[..., None]).sum((0, 1)) / total)
        return mean, np.maximum(std, 1e-3)

    (ms, ss), (mr, sr) = stats(src), stats(ref)
    out = (src - ms) * (sr / ss) + mr
    return cv2.cvtColor(np.clip(out + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def frame_pixels_per_model_pixel(alignment: Alignment, model_size: int) -> float:
    """How many frame pixels one pixel of a `model_size` crop covers: above 1, the pasted face
    is an enlargement, softer than the frame around it."""
    scale = float(np.sqrt(abs(np.linalg.det(alignment.matrix[:, :2]))))  # crop pixels per frame pixel
    return alignment.size[0] / model_size / max(scale, 1e-9)


def frame_detail(region: np.ndarray, pixels_per_model_pixel: float) -> np.ndarray:
    """The part of `region` (float32) finer than a model pixel: the region less its blur over half
    a model pixel (a Gaussian that keeps the band the model's crop can carry)."""
    return region - cv2.GaussianBlur(region, (0, 0), pixels_per_model_pixel / 2)


def paste_back(
    frame: np.ndarray,
    crops: Sequence[tuple[np.ndarray, Alignment]],
    *,
    erode: float = 0.05,
    blur: float = 0.1,
    color_match: bool = False,
    detail_from: int = 0,
    face_margin: float | None = None,
) -> np.ndarray:
    """`frame` with each (translated crop, its alignment) blended back in. With `detail_from` (a
    model's crop side), the frame's own detail finer than that crop can carry is added back
    under the mask, so a face enlarged from a small model's crop is as sharp as the frame.
    With `face_margin`, only the face's ellipse is pasted (paste_mask).

    With no crops (no face in this frame) the frame itself is returned untouched."""
    if not crops:
        return frame
    out = frame.copy()
    for crop, alignment in crops:
        if crop.shape[1::-1] != alignment.size:
            raise ValueError(f"crop is {crop.shape[1]}x{crop.shape[0]}, alignment expects {alignment.size}")
        mask = paste_mask(alignment.size, erode, blur, face_margin)
        if color_match:
            crop = match_color(crop, warp_to_crop(frame, alignment), mask)
        # only the face's part of the frame is blended: the rest is the frame's own, and a
        # whole-frame float blend cost more than everything else in face mode at 1080p
        x0, y0, x1, y1 = window = reach(alignment)
        if x1 <= x0 or y1 <= y0:
            continue
        m = np.clip(warp_to_frame(mask, alignment, window), 0.0, 1.0)[..., None]  # bicubic overshoots
        face = warp_to_frame(crop, alignment, window).astype(np.float32)
        region = out[y0:y1, x0:x1].astype(np.float32)
        blended = region * (1.0 - m) + face * m
        enlargement = frame_pixels_per_model_pixel(alignment, detail_from) if detail_from else 0.0
        if enlargement > 1.5:  # nearer 1 the crop carries (almost) the frame's detail itself
            blended += m * frame_detail(region, enlargement)
        out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out
