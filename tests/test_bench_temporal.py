"""scripts/bench_temporal.py's third judge: warping error along the true motion of a
synthetic clip, so no flow estimate's error counts."""

import runpy
from pathlib import Path

import cv2
import numpy as np
from skimage.data import astronaut

from vidswap.metrics.flow import to_gray, warp

BENCH = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "bench_temporal.py"))


def hand_held(n: int = 8):
    """The astronaut (softened a little, as a camera's optics do) seen by a drifting, zooming,
    shaking camera, as the bench's synthetic clips are."""
    return BENCH["camera"](
        cv2.GaussianBlur(astronaut(), (0, 0), 1.0),
        n,
        (160, 120),
        lambda t: (260 + 1.7 * t, 200 + 0.6 * t, 1.0 + 0.01 * t),
    )


def test_the_true_flow_brings_each_frame_onto_the_other():
    scene = hand_held()
    frames = scene.render(scene.source)
    forward, backward = scene.true_pairs(), scene.true_pairs(backward=True)
    for before, after, pair, back in zip(frames, frames[1:], forward, backward):
        assert pair.valid.mean() > 0.9  # the camera moves a few pixels: most stays in view
        moved = np.abs(warp(after, pair.flow).astype(float) - before)[pair.valid].mean()
        still = np.abs(after.astype(float) - before)[pair.valid].mean()
        assert moved < 0.25 * still  # what is left is resampling, not motion
        # and backward (the smoother's direction, for the bench's oracle): the frame before onto the one after
        moved_back = np.abs(warp(before, back.flow).astype(float) - after)[back.valid].mean()
        assert moved_back < 0.25 * still


def test_a_consistent_output_scores_one_and_a_flickering_one_does_not():
    scene = hand_held()
    inputs = scene.render(scene.source)
    judge = BENCH["Judge"](inputs, inputs, true_pairs=scene.true_pairs())
    # a translation without flicker: another picture of the same texture, moved along the path
    consistent = scene.render(255 - scene.source)
    assert abs(judge(consistent)["true"] - 1.0) < 0.1
    rng = np.random.default_rng(0)
    flickering = [np.clip(f * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8) for f in consistent]
    assert judge(flickering)["true"] > 3.0


def test_crop_motion_is_zero_for_a_crop_that_follows_the_face():
    """The bench's `crop against the face`: a crop carried along the camera path does not move
    against the face; one held still in the frame moves as the camera does."""
    from types import SimpleNamespace

    from vidswap.faces import align_face

    scene = hand_held()
    face = np.array([[250.0, 190], [280, 190], [265, 205], [252, 222], [278, 222]])  # in the source
    on_frame = [
        face @ cv2.invertAffineTransform(m)[:, :2].T + cv2.invertAffineTransform(m)[:, 2] for m in scene.matrices
    ]
    following = {i: [(0, align_face(lm, scene.size, 64))] for i, lm in enumerate(on_frame)}
    still = {i: [(0, align_face(on_frame[0], scene.size, 64))] for i in range(len(on_frame))}
    assert BENCH["crop_motion"](SimpleNamespace(faces=following), scene).endswith("max 0.00 px, mean step 0.00 px")
    assert "mean step 0.00 px" not in BENCH["crop_motion"](SimpleNamespace(faces=still), scene)


def test_the_translation_fit_finds_a_sub_pixel_pan():
    # the best single shift of a panning camera's frames (the bench's --flow-error shows how far
    # a faint wall's frames leave it from the true motion): exact on a picture softened as a camera's
    # optics do, rendered in floating point
    source = cv2.GaussianBlur(astronaut().astype(np.float32), (0, 0), 1.0)
    scene = BENCH["camera"](source, 4, (160, 120), lambda t: (256 + 2.3 * t, 256, 1.0))
    frames = [to_gray(f) for f in scene.render(scene.source)]
    for a, b, pair in zip(frames, frames[1:], scene.true_pairs(backward=True)):
        assert np.linalg.norm(BENCH["translation_fit"](b, a) - np.median(pair.flow[pair.valid], axis=0)) < 0.05
    assert BENCH["fit_error"](scene.render(scene.source), scene.true_pairs(backward=True)) < 0.05
