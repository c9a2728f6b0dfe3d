"""Optical flow, warping and occlusion on uint8 RGB frames: the one place for the flow
code that temporal smoothing (vidswap.pipeline.smooth) and the warping error
(vidswap.metrics.warping) share.

Conventions: a flow `flow_ab` is HxWx2 float32 (dx, dy) in pixels, defined on frame a:
pixel x of a moves to x + flow_ab[x] in b. `warp(b, flow_ab)` samples b at those
positions, giving b aligned with a (backward warping). The mask of a pair is True where
the pixel of a is still visible in b (forward-backward consistency).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from vidswap.choices import FlowMethod, choices

# DIS presets by name: ultrafast is ~3x quicker than medium and good enough once flow
# is computed at reduced resolution (smoothing); medium is the default for measuring.
_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass
class FlowPair:
    """Flow from frame a to frame b, with the non-occlusion mask on a."""

    flow: np.ndarray  # HxWx2 float32, a -> b
    valid: np.ndarray  # HxW bool: pixel of a visible in b

    @property
    def valid_fraction(self) -> float:
        return float(self.valid.mean()) if self.valid.size else 0.0


def to_gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


@lru_cache(maxsize=4)
def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's x and y (float32, HxW each), made once a size."""
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` (frame b) at x + flow(x): b brought into the geometry of frame a."""
    return warp_each([image], flow)[0]


def warp_each(images: list[np.ndarray], flow: np.ndarray) -> list[np.ndarray]:
    """`warp` of several images of frame b along one flow (the sampling maps made once)."""
    grid_x, grid_y = pixel_grid(*flow.shape[:2])
    map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
    return [cv2.remap(im, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for im in images]


def upscale_flow(flow: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A flow computed on shrunk frames, brought to frames of `shape` (h, w)."""
    h, w = shape
    if flow.shape[:2] == (h, w):
        return flow
    # displacements grow with the image: rescale each axis by its own factor
    fx, fy = w / flow.shape[1], h / flow.shape[0]
    flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
    flow[..., 0] *= fx
    flow[..., 1] *= fy
    return flow


def consistent(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """Forward-backward check (Sundaram et al. 2010, as in Lai et al. 2018): following a->b
    then b->a must come back near the start, else the pixel of a is occluded in b (or the
    flow is wrong there). Pixels whose flow leaves the frame are invalid too."""
    back = warp(flow_ba, flow_ab)
    loop = flow_ab + back
    tolerance = 0.01 * ((flow_ab**2).sum(-1) + (back**2).sum(-1)) + 0.5
    h, w = flow_ab.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + flow_ab[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + flow_ab[..., 1]
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    return ((loop**2).sum(-1) < tolerance) & inside


FLOW_METHODS = choices(FlowMethod)


class FlowEstimator:
    """Optical flow (OpenCV, no downloaded weights), computed on frames shrunk so their
    longer side is at most `max_side` and scaled back up: flow is smooth, so this loses
    little and makes 720p and 1080p cheap. `method`: DIS (with its `preset`; what the
    smoother follows) or Farneback (a second, independent method to judge with: DIS invents
    motion on flat surfaces that do not move, docs/temporal.md)."""

    def __init__(self, max_side: int | None = 320, preset: str = "fast", method: str = "dis"):
        if preset not in _PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r} (known: {', '.join(_PRESETS)})")
        if method not in FLOW_METHODS:
            raise ValueError(f"unknown flow method {method!r} (known: {', '.join(FLOW_METHODS)})")
        self.max_side = max_side
        self.method = method
        self._dis = cv2.DISOpticalFlow_create(_PRESETS[preset])

    def _calc(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.method == "farneback":
            return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 3, 5, 1.1, 0)
        return self._dis.calc(a, b, None)

    def _shrink(self, gray: np.ndarray) -> np.ndarray:
        h, w = gray.shape
        scale = min(1.0, self.max_side / max(h, w)) if self.max_side else 1.0
        if scale == 1.0:
            return gray
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)

    def pair(self, gray_a: np.ndarray, gray_b: np.ndarray) -> FlowPair:
        """Flow a -> b and where it can be trusted (checked against b -> a). The check runs
        at the reduced resolution too; the mask is scaled up with the flow."""
        small_a, small_b = self._shrink(gray_a), self._shrink(gray_b)
        flow_ab = self._calc(small_a, small_b)
        valid = consistent(flow_ab, self._calc(small_b, small_a))
        h, w = gray_a.shape
        if valid.shape != (h, w):
            valid = cv2.resize(valid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        return FlowPair(upscale_flow(flow_ab, (h, w)), valid)
