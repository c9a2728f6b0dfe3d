"""Flow helpers and the warping error on a real image panned across frames."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.data import astronaut

from vidswap.metrics.flow import FlowEstimator, consistent, to_gray, warp
from vidswap.metrics.warping import WarpingError, pair_warping_error, warping_error

H, W = 128, 160


def pan(n: int, dx: int = 4, dy: int = 2) -> list[np.ndarray]:
    """The astronaut seen through a window moving right and down: a camera pan."""
    image = astronaut()
    return [np.ascontiguousarray(image[40 + dy * t : 40 + dy * t + H, 60 + dx * t : 60 + dx * t + W]) for t in range(n)]


@pytest.mark.parametrize("max_side, method", [(None, "dis"), (80, "dis"), (None, "farneback")])
def test_flow_recovers_a_pan_and_warp_aligns(max_side, method):
    a, b = pan(2)
    pair = FlowEstimator(max_side=max_side, method=method).pair(to_gray(a), to_gray(b))
    # the window moved by (+4, +2): content of a is found at (-4, -2) in b, where there is
    # texture to follow (Farneback reads about no motion on flat areas, DIS fills them in)
    inner = (slice(16, -16), slice(16, -16))
    textured = np.abs(np.gradient(to_gray(a).astype(float))[1])[inner] > 8
    assert np.allclose(np.median(pair.flow[inner][textured], axis=0), [-4, -2], atol=0.5)
    assert pair.valid_fraction > 0.8
    aligned = warp(b, pair.flow).astype(float)
    assert np.abs(aligned - a)[inner].mean() < 0.25 * np.abs(b.astype(float) - a)[inner].mean()


def test_an_unknown_flow_method_is_refused():
    with pytest.raises(ValueError, match="farneback"):
        FlowEstimator(method="raft")


def test_consistency_flags_disagreeing_flow():
    forward = np.full((32, 32, 2), 3.0, np.float32)
    assert consistent(forward, -forward)[4:-4, 4:-8].all()  # there and back again
    assert not consistent(forward, forward)[4:-4, 4:-8].any()  # backward flow should point back
    assert not consistent(forward, -forward)[:, -2:].any()  # these leave the frame


def test_warping_error_of_the_input_itself_is_small_and_flicker_raises_it():
    frames = pan(6)
    rng = np.random.default_rng(0)
    flicker = [np.clip(f * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8) for f in frames]
    steady = warping_error(zip(frames, frames))
    assert steady.pairs == 5
    assert steady.output == pytest.approx(steady.input) and steady.ratio == pytest.approx(1.0)
    assert steady.input < 1e-3
    flickering = warping_error(zip(frames, flicker))
    assert flickering.ratio > 20
    assert flickering.to_dict()["ratio"] == pytest.approx(flickering.ratio)


def test_nothing_to_measure_is_reported_as_none():
    meter = WarpingError()
    frame = pan(1)[0]
    meter.add(frame, frame)
    report = meter.report()
    assert report.pairs == 0 and report.to_dict()["output"] is None and report.to_dict()["ratio"] is None
    with pytest.raises(ValueError, match="frame sizes differ"):
        meter.add(frame, frame[:-2])


def test_warping_error_on_a_region_counts_only_its_pixels():
    a, b = pan(2)
    pair = FlowEstimator().pair(to_gray(a), to_gray(b))
    flickered = b.copy()
    flickered[:, W // 2 :] = 255 - flickered[:, W // 2 :]  # the right half flickers
    left = np.zeros((H, W), bool)
    left[:, : W // 2 - 8] = True
    steady_part = pair_warping_error(a, flickered, pair, left)
    assert steady_part == pytest.approx(pair_warping_error(a, b, pair, left))
    assert pair_warping_error(a, flickered, pair, ~left) > 10 * steady_part
    assert pair_warping_error(a, b, pair, np.zeros((H, W), bool)) is None  # nothing to count


def test_the_meter_on_regions_skips_pairs_where_a_frame_has_none():
    frames = pan(5)
    flicker = [255 - f if t % 2 else f for t, f in enumerate(frames)]
    left = np.zeros((H, W), bool)
    left[:, : W // 2] = True
    right = ~left
    meter = WarpingError(on_regions=True)
    flickered_right = [np.where(right[..., None], g, f) for f, g in zip(frames, flicker)]
    for t, (f, o) in enumerate(zip(frames, flickered_right)):
        meter.add(f, o, region=None if t == 2 else left)  # frame 2 has no face: pairs 1-2 and 2-3 do not count
    report = meter.report()
    assert report.pairs == 2
    assert report.ratio == pytest.approx(1.0, abs=0.05)  # the flicker is outside the regions
    whole = warping_error(zip(frames, flickered_right))
    assert whole.pairs == 4 and whole.ratio > 10
