"""Temporal appearance smoothing of translated frames (`--smooth auto|flow|none`).

A frame-by-frame generator flickers: the same surface comes out a little differently in
each frame. FlowSmoother follows the INPUT video's motion to bring the previous smoothed
output into the current frame's geometry and holds it where the input itself did not
change there, so the output changes about as much as the input does (FlowSmoother's
docstring has the formula). Newly revealed pixels, changes the flow missed and everything
after a scene cut take the generator's output as it is.

It is recursive: blending with the previous *smoothed* frame makes it an exponential
moving average along motion paths, which damps flicker far more than blending with the
previous raw output would.

`auto` (the default) smooths where the translation is: the whole frame in frame mode; in
face mode the pasted faces, in frame coordinates (the background, the untouched input, is
not blended). Smoothing each face's aligned crop along the flow between consecutive crops
was the face-mode default before: the aligned crop moves a tenth of a pixel or more a
frame under a still face (landmark noise), the generator's texture moves with the crop's
grid, and that crop-to-crop flow is too small to follow (docs/temporal.md: 27.6x the
input's warping error on a still face against 6.9x in frame coordinates). The default
strength and the filter were measured (scripts/bench_temporal.py, docs/temporal.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from vidswap.choices import ApplyMode, Smoothing, choices
from vidswap.errors import ConfigError
from vidswap.metrics.flow import FlowEstimator, to_gray, upscale_flow, warp
from vidswap.settings import SMOOTH_STRENGTH


class FlowSmoother:
    """Feed (input_frame, output_frame) uint8 RGB pairs in order; get smoothed output frames.

    Each frame: O_t = w * (warp(O_t-1) + a * dx) + (1 - w) * G_t, where G_t is the
    generator's output, dx the input's own change along the flow (its luminance minus the
    previous one warped, low frequencies only) and a the local slope of output on input
    luminance (a guided filter's linear fit, leaning on the whole frame's slope where the
    input is flat). So the history carries the changes the input really has (light) and
    holds everything else: the generator's flicker, and the sensor's and codec's pixel noise.
    The weight w is `strength` where the input is steady after motion compensation and falls
    with the input's warped difference (exp(-r / (2 sigma^2)), Bonneel et al. 2015),
    smoothed by a guided filter on the input so it follows the input's edges and does not
    halo. The forward-backward check only decides whether the history is kept at all
    (min_valid).

    strength: the history's weight where the input is steady, in [0, 1); 0 turns smoothing
        off, 0.9 is a memory of about 1 / (1 - 0.9) = 10 frames.
    sigma: input difference (0-1 luminance) at which the weight has fallen to exp(-1/2).
    carry: add the input's change to the history (off only to measure what it buys).
    cut_threshold: mean absolute difference (0-255) of thumbnails of consecutive input
        frames above which a scene cut is assumed and the history dropped.
    min_valid: the history is also dropped when less than this fraction of the frame has
        trusted flow (a cut the thumbnails missed, a flash, a flow failure).
    max_side: flow, weights and slopes are computed on frames shrunk to this longer side (a
        region's window by the same factor as its frame)
        (they are smooth fields); the warp and the blend run at full size.
    preset: DIS preset of the smoother's flow ("medium": its flow errors were the larger part
        of what the filter left on a pan, docs/temporal.md).
    still_window: the window (at least 5 px), as a share of the longer side of what is
        smoothed, over which the input decides whether zero motion explains it as well as
        the flow (where it does, the flow is taken as zero; where the window cannot tell, the
        whole frame decides).
    """

    def __init__(
        self,
        strength: float = SMOOTH_STRENGTH,
        *,
        sigma: float = 0.05,
        carry: bool = True,
        cut_threshold: float = 30.0,
        min_valid: float = 0.3,
        max_side: int = 320,
        preset: str = "medium",
        still_window: float = 0.2,
    ):
        self.strength = _checked_strength(strength)
        self.sigma = sigma
        self.carry = carry
        self.min_valid = min_valid
        self.max_side = max_side
        self.still_window = still_window
        self.flow = FlowEstimator(max_side=max_side, preset=preset)
        self.scenes = SceneCuts(cut_threshold)
        self.cuts = 0  # scene cuts seen (for reports and tests)
        self.kept: list[float] = []  # a frame's share of pixels keeping at least half the full weight
        self.reset()

    def reset(self) -> None:
        """Forget the history (call between unrelated clips)."""
        self._prev_gray: np.ndarray | None = None
        self._prev_out: np.ndarray | None = None
        self.scenes.reset()

    def __call__(
        self, input_frame: np.ndarray, output_frame: np.ndarray, region: np.ndarray | None = None
    ) -> np.ndarray:
        """`region` (HxW bool): smooth only there; elsewhere the output is taken as it is
        (face mode: the pasted faces; the rest of the frame is the input's own). The flow
        and the blend are then computed in a window around the region only."""
        if input_frame.shape[:2] != output_frame.shape[:2]:
            raise ValueError(f"frame sizes differ: input {input_frame.shape}, output {output_frame.shape}")
        gray = to_gray(input_frame)
        result = output_frame
        if self.scenes(gray):
            if self._prev_gray is not None and self.strength > 0:
                self.cuts += 1
                self.kept.append(0.0)
        elif self.strength > 0:
            scale = min(1.0, self.max_side / max(gray.shape))
            if region is None:
                result = self._blend(gray, output_frame, self._prev_gray, self._prev_out, scale)
            elif region.any():
                y, x = _around(region)
                blended = self._blend(
                    gray[y, x], output_frame[y, x], self._prev_gray[y, x], self._prev_out[y, x], scale
                )
                result = output_frame.copy()
                result[y, x] = np.where(region[y, x, None], blended, output_frame[y, x])
        self._prev_gray, self._prev_out = gray, result
        return result

    def _blend(self, gray: np.ndarray, output_frame: np.ndarray, prev_gray: np.ndarray, prev_out: np.ndarray,
               scale: float) -> np.ndarray:  # fmt: skip
        # flow, weights and slopes on the frames shrunk by `scale`; only the warp and the blend at full size
        h, w = gray.shape
        size = max(1, round(w * scale)), max(1, round(h * scale))
        cur, prev = (cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in (gray, prev_gray))
        pair = self.flow.pair(cur, prev)  # current -> previous frame
        if pair.valid_fraction < self.min_valid:
            self.cuts += 1
            self.kept.append(0.0)
            return output_frame
        guide, prev = cur.astype(np.float32) / 255, prev.astype(np.float32) / 255
        window = max(5, 2 * round(self.still_window * max(size) / 2) + 1)
        flow = _held_still(guide, prev, pair.flow, window)
        # Trust comes from the input itself: where the warped previous frame matches the
        # current one. Not from the forward-backward check: it fails by a fraction of a pixel
        # on flat and blurred areas, where a wrong flow does no harm, and dropped the history
        # on a third of a hand-held frame (docs/temporal.md); a real occlusion or a change
        # the flow missed shows as a difference here.
        moved = guide - warp(prev, flow)  # the input's own change along the flow, 0-1
        residual = cv2.blur(moved**2, (5, 5))
        weight = self.strength * np.exp(-residual / (2 * self.sigma**2))
        weight = np.clip(guided_filter(guide, weight, radius=4, eps=1e-3), 0.0, self.strength)
        self.kept.append(float((weight >= 0.5 * self.strength).mean()))
        history = warp(prev_out, upscale_flow(flow, (h, w)))
        full_weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)
        blended = cv2.blendLinear(output_frame, history, 1.0 - full_weight, full_weight)  # uint8 in and out
        if not self.carry:
            return blended
        small_out = cv2.resize(output_frame, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        # at most the input's own change: a generator that sharpens would otherwise carry its
        # amplified noise into the history
        slope = np.clip(local_slope(guide, small_out, radius=8, eps=1e-3), -1.0, 1.0)
        # only the change's low frequencies: light changes smoothly, while the pixel noise of the
        # sensor and the codec carried into a still face's history made it flicker as much as
        # the unsmoothed output (docs/temporal.md)
        change = 255 * cv2.blur(moved, (3, 3))
        carried = cv2.resize(weight[..., None] * slope * change[..., None], (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.add(blended, carried, dtype=cv2.CV_8U)


class SceneCuts:
    """Feed a clip's grey (or RGB) frames in order: True for a frame that begins a scene (the
    first one, and one after a cut: the mean absolute difference, 0-255, of 32x32
    thumbnails of consecutive frames above `threshold`). Both the smoother and the held
    normalisation statistics (vidswap.nets.held_norm) start again there."""

    def __init__(self, threshold: float = 30.0):
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self._prev: np.ndarray | None = None

    def __call__(self, frame: np.ndarray) -> bool:
        gray = frame if frame.ndim == 2 else to_gray(frame)
        thumb = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
        prev, self._prev = self._prev, thumb
        return prev is None or float(np.abs(thumb - prev).mean()) > self.threshold


def _held_still(cur: np.ndarray, prev: np.ndarray, flow: np.ndarray, window: int) -> np.ndarray:
    """The flow, zeroed where the input is explained at least as well without motion, the
    two compared over `window` px around each pixel. A still background gets a flow of a
    few hundredths to tenths of a pixel of noise, and resampling the history along it each
    frame would make the output wobble where the input does not. A flat area explains
    nothing either way: where the window shows no difference between the two, the whole
    frame decides. (With a 5 px window and no such fallback, the flat parts of a panning
    picture were held still and the history stayed behind the picture there:
    docs/temporal.md.)"""
    gain = (cur - prev) ** 2 - (cur - warp(prev, flow)) ** 2  # what the motion explains beyond staying
    near = cv2.blur(gain, (window, window))
    margin = 1.5e-5  # about a grey level squared: a codec's noise
    still = np.where(np.abs(near) > margin, near <= margin, float(gain.mean()) <= margin).astype(np.float32)
    return flow * (1.0 - cv2.blur(still, (5, 5))[..., None])


def _around(region: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns of a window around a (non-empty) region, with a margin of a quarter
    of its size (at least 16 px) so the flow sees the region's surroundings."""
    rows, cols = np.flatnonzero(region.any(1)), np.flatnonzero(region.any(0))
    margin = max(16, (max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1) // 4)
    h, w = region.shape
    return (slice(max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)))  # fmt: skip


def _mean(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.blur(image, (2 * radius + 1, 2 * radius + 1))


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al. 2010: `source` (HxW float32) smoothed so its edges follow the guide's (HxW, 0-1)."""
    mean_i, mean_p = _mean(guide, radius), _mean(source, radius)
    var_i = _mean(guide * guide, radius) - mean_i * mean_i
    a = (_mean(guide * source, radius) - mean_i * mean_p) / (var_i + eps)
    b = mean_p - a * mean_i
    return _mean(a, radius) * guide + _mean(b, radius)


def local_slope(guide: np.ndarray, target: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Slope of each channel of `target` (HxWxC) on `guide` (HxW) in a local least-squares fit
    (a guided filter's coefficient): how much the output changes per unit of input. Where
    the guide is flat the fit leans on the whole frame's slope instead of falling to 0."""
    mean_i, mean_p = _mean(guide, radius), _mean(target, radius)
    var_i = _mean(guide * guide, radius) - mean_i * mean_i
    cov = _mean(guide[..., None] * target, radius) - mean_i[..., None] * mean_p
    centred = guide - guide.mean()
    overall = (centred[..., None] * (target - target.mean(axis=(0, 1)))).mean(axis=(0, 1)) / (centred.var() + 1e-6)
    slope = (cov + eps * overall) / (var_i[..., None] + eps)
    return np.clip(_mean(slope, radius), -2.0, 2.0)


def _checked_strength(strength: float) -> float:
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"smoothing strength must be in [0, 1), got {strength}")
    return strength


def check_smoothing(mode: Smoothing, strength: float) -> None:
    """Raise ConfigError for an unknown mode or a strength out of range (before any work)."""
    if mode not in choices(Smoothing):
        raise ConfigError(f"unknown smoothing {mode!r} (known: {', '.join(choices(Smoothing))})")
    try:
        _checked_strength(strength)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def make_smoother(mode: Smoothing, strength: float = SMOOTH_STRENGTH, apply_mode: ApplyMode = "frame"):
    """The whole-frame smoother for a `--smooth` mode: "flow" in any mode, "auto" in frame
    mode; None otherwise."""
    check_smoothing(mode, strength)
    if mode == "flow" or (mode == "auto" and apply_mode == "frame"):
        return FlowSmoother(strength)
    return None


def make_face_smoother(mode: Smoothing, strength: float = SMOOTH_STRENGTH, apply_mode: ApplyMode = "face"):
    """The smoother of the pasted faces (face_processor): "auto" in face mode; None otherwise."""
    check_smoothing(mode, strength)
    return FlowSmoother(strength) if mode == "auto" and apply_mode == "face" else None
