"""Temporal appearance smoothing of translated frames (`--smooth none|flow`).

A frame-by-frame generator flickers: the same surface comes out a little differently in
each frame. FlowSmoother follows the INPUT video's motion to bring the previous smoothed
output into the current frame's geometry and blends it in wherever the flow passes the
forward-backward check, so surfaces keep their appearance while newly revealed pixels
(and everything after a scene cut) take the generator's output as it is.

It is recursive: blending with the previous *smoothed* frame makes it an exponential
moving average along motion paths, which damps flicker far more than blending with the
previous raw output would. An EMA without flow was not added: on anything that moves it
ghosts, and on static shots the flow version does the same thing.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidswap.choices import Smoothing, choices
from vidswap.errors import ConfigError
from vidswap.metrics.flow import FlowEstimator, to_gray, warp


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
        strength: float = 0.6,
        *,
        cut_threshold: float = 30.0,
        min_valid: float = 0.3,
        max_side: int = 320,
        preset: str = "fast",
    ):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"smoothing strength must be in [0, 1), got {strength}")
        self.strength = strength
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


def make_smoother(mode: Smoothing, strength: float = 0.6) -> FlowSmoother | None:
    """The smoother for a `--smooth` mode; None for "none"."""
    if mode == "none":
        return None
    if mode == "flow":
        try:
            return FlowSmoother(strength)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    raise ConfigError(f"unknown smoothing {mode!r} (known: {', '.join(choices(Smoothing))})")
