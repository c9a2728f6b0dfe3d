"""Flow smoothing steadies a flickering translation without smearing it."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.data import astronaut, coffee

from vidswap.errors import ConfigError
from vidswap.metrics.warping import warping_error
from vidswap.pipeline.smooth import FlowSmoother, make_smoother

H, W = 128, 160


def panned(image: np.ndarray, n: int) -> list[np.ndarray]:
    return [np.ascontiguousarray(image[30 + 2 * t : 30 + 2 * t + H, 50 + 4 * t : 50 + 4 * t + W]) for t in range(n)]


def flickering_translation(frames: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """A stand-in generator: inverted colours, with per-frame brightness flicker and noise."""
    rng = np.random.default_rng(seed)
    out = []
    for frame in frames:
        translated = (255 - frame).astype(np.float32) * rng.uniform(0.75, 1.25) + rng.normal(0, 4, frame.shape)
        out.append(np.clip(translated, 0, 255).astype(np.uint8))
    return out


def smooth_all(smoother, inputs, outputs):
    return [smoother(i, o) for i, o in zip(inputs, outputs)]


def test_flow_smoothing_lowers_the_warping_error():
    inputs = panned(astronaut(), 12)
    outputs = flickering_translation(inputs)
    raw = warping_error(zip(inputs, outputs))
    smoothed_frames = smooth_all(FlowSmoother(0.6), inputs, outputs)
    smoothed = warping_error(zip(inputs, smoothed_frames))
    assert smoothed.output < 0.3 * raw.output
    # and it is still the translation, not a blur or the previous frame: close to the clean one
    clean = [255 - f for f in inputs]
    err = np.mean([np.abs(s.astype(float) - c).mean() for s, c in zip(smoothed_frames[1:], clean[1:])])
    raw_err = np.mean([np.abs(o.astype(float) - c).mean() for o, c in zip(outputs[1:], clean[1:])])
    assert err < raw_err


def test_stronger_smoothing_is_steadier():
    inputs = panned(astronaut(), 10)
    outputs = flickering_translation(inputs, seed=1)
    errors = [warping_error(zip(inputs, smooth_all(FlowSmoother(s), inputs, outputs))).output for s in (0.0, 0.4, 0.8)]
    assert errors[0] > errors[1] > errors[2]


def test_scene_cut_drops_the_history():
    inputs = panned(astronaut(), 5) + panned(coffee(), 5)
    outputs = flickering_translation(inputs)
    smoother = FlowSmoother(0.8)
    result = smooth_all(smoother, inputs, outputs)
    assert smoother.cuts == 1
    assert np.array_equal(result[0], outputs[0])  # nothing to blend with yet
    assert np.array_equal(result[5], outputs[5])  # first frame after the cut: taken as it is
    assert not np.array_equal(result[6], outputs[6])  # and smoothing starts again


def test_modes_and_options():
    assert make_smoother("none") is None
    assert isinstance(make_smoother("flow", 0.3), FlowSmoother)
    with pytest.raises(ConfigError, match="unknown smoothing"):
        make_smoother("ema")
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        make_smoother("flow", 1.0)
