"""Temporal appearance smoothing of translated frames (`--smooth auto|flow|none`).

A frame-by-frame generator flickers: the same surface comes out a little differently in
each frame. FlowSmoother follows the INPUT video's motion to bring the previous smoothed
output into the current frame's geometry and blends it in wherever the flow passes the
forward-backward check, so surfaces keep their appearance while newly revealed pixels
(and everything after a scene cut) take the generator's output as it is.

It is recursive: blending with the previous *smoothed* frame makes it an exponential
moving average along motion paths, which damps flicker far more than blending with the
previous raw output would. An EMA without flow was not added: on anything that moves it
ghosts, and on static shots the flow version does the same thing.

`auto` (the default) smooths where the translation is: the whole frame in frame mode; in
face mode each face track's translated crop (CropSmoother), along the flow between
consecutive aligned input crops. The track is already One-Euro-smoothed, so that flow is
small and mostly the face's own motion, and the background (the untouched input) is not
blended at all. The default strength was measured (scripts/bench_temporal.py,
docs/temporal.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from vidswap.choices import ApplyMode, Smoothing, choices
from vidswap.errors import ConfigError
from vidswap.metrics.flow import FlowEstimator, to_gray, warp
from vidswap.settings import SMOOTH_STRENGTH


class FlowSmoother:
    """Feed (input_frame, output_frame) uint8 RGB pairs in order; get smoothed output frames.

    strength: weight of the warped history where the flow is trusted, in [0, 1); 0 turns
        smoothing off, 0.8 is strong (a memory of about 1 / (1 - 0.8) = 5 frames).
    cut_threshold: mean absolute difference (0-255) of thumbnails of consecutive input
        frames above which a scene cut is assumed and the history dropped.
    min_valid: the history is also dropped when less than this fraction of the frame has
        trusted flow (a cut the thumbnails missed, a flash, a flow failure).
    max_side: flow is computed on frames shrunk to this longer side (speed).
    """

    def __init__(
        self,
        strength: float = SMOOTH_STRENGTH,
        *,
        cut_threshold: float = 30.0,
        min_valid: float = 0.3,
        max_side: int = 320,
        preset: str = "fast",
    ):
        self.strength = _checked_strength(strength)
        self.cut_threshold = cut_threshold
        self.min_valid = min_valid
        self.flow = FlowEstimator(max_side=max_side, preset=preset)
        self.cuts = 0  # scene cuts seen (for reports and tests)
        self.reset()

    def reset(self) -> None:
        """Forget the history (call between unrelated clips)."""
        self._prev_gray: np.ndarray | None = None
        self._prev_thumb: np.ndarray | None = None
        self._prev_out: np.ndarray | None = None

    def __call__(self, input_frame: np.ndarray, output_frame: np.ndarray) -> np.ndarray:
        if input_frame.shape[:2] != output_frame.shape[:2]:
            raise ValueError(f"frame sizes differ: input {input_frame.shape}, output {output_frame.shape}")
        gray = to_gray(input_frame)
        thumb = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
        result = output_frame
        if self._prev_gray is not None and self.strength > 0:
            if np.abs(thumb - self._prev_thumb).mean() > self.cut_threshold:
                self.cuts += 1
            else:
                result = self._blend(gray, output_frame)
        self._prev_gray, self._prev_thumb, self._prev_out = gray, thumb, result
        return result

    def _blend(self, gray: np.ndarray, output_frame: np.ndarray) -> np.ndarray:
        pair = self.flow.pair(gray, self._prev_gray)  # current -> previous frame
        if pair.valid_fraction < self.min_valid:
            self.cuts += 1
            return output_frame
        history = warp(self._prev_out, pair.flow)
        # feather the mask so occlusion borders do not show as seams
        weight = cv2.blur(pair.valid.astype(np.float32), (9, 9)) * self.strength
        return cv2.blendLinear(output_frame, history, 1.0 - weight, weight)  # one pass, uint8 in and out


class CropSmoother:
    """Face mode: one FlowSmoother per face track, fed the aligned input crop and its
    translation. A track's history is dropped when it skips a frame (a gap the tracker did
    not fill, or the start of a time window)."""

    def __init__(self, strength: float = SMOOTH_STRENGTH):
        self.strength = _checked_strength(strength)
        self._tracks: dict[int, tuple[FlowSmoother, int]] = {}  # track -> (its smoother, last frame index)

    def __call__(self, track: int, index: int, input_crop: np.ndarray, output_crop: np.ndarray) -> np.ndarray:
        smoother, last = self._tracks.get(track, (None, None))
        if smoother is None:
            smoother = FlowSmoother(self.strength)
        elif last != index - 1:
            smoother.reset()
        self._tracks[track] = (smoother, index)
        return smoother(input_crop, output_crop)


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


def make_crop_smoother(mode: Smoothing, strength: float = SMOOTH_STRENGTH, apply_mode: ApplyMode = "face"):
    """The per-face smoother: "auto" in face mode; None otherwise."""
    check_smoothing(mode, strength)
    return CropSmoother(strength) if mode == "auto" and apply_mode == "face" else None
