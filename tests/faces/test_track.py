from dataclasses import replace

import cv2
import numpy as np
import pytest

from tests.faces.helpers import FRAME_H, FRAME_W, write_video
from vidswap.errors import ConfigError
from vidswap.faces import (
    Detection,
    OneEuroFilter,
    align_face,
    hold_still,
    select_tracks,
    smooth_track,
    track_faces,
)
from vidswap.pipeline.faces import plan_faces
from vidswap.settings import FaceSettings


def det(x: float, y: float, size: float = 50.0, score: float = 0.99) -> Detection:
    box = np.array([x - size / 2, y - size / 2, x + size / 2, y + size / 2], np.float32)
    eyes = [[x - size / 5, y - size / 8], [x + size / 5, y - size / 8]]
    lm = np.array([*eyes, [x, y + size / 20], [x - size / 6, y + size / 4], [x + size / 6, y + size / 4]], np.float32)
    return Detection(box=box, landmarks=lm, score=score)


@pytest.mark.parametrize("clip", ["astronaut_clip", "grace_clip"])
def test_one_continuous_track_across_the_covered_gap(request, clip):
    clip = request.getfixturevalue(clip)
    tracks = track_faces(clip.detections, clip.times)
    assert len(tracks) == 1
    track = tracks[0]
    assert list(track.positions) == list(range(len(clip.frames)))
    assert not track.detected[list(clip.covered)].any()
    assert (track.scores[list(clip.covered)] == 0).all()
    # the interpolated boxes follow the hidden face closely
    for i in clip.covered:
        assert np.abs(track.landmarks[i] - clip.truth[i]).max() < 6.0


def test_two_faces_give_two_tracks_numbered_left_to_right():
    frames = [[det(200 - i, 100, 60), det(50 + i, 100, 40)] for i in range(10)]
    tracks = track_faces(frames)
    assert len(tracks) == 2
    assert tracks[0].boxes[0, 0] < tracks[1].boxes[0, 0]
    assert select_tracks(tracks, "largest")[0].id == 1  # the 60 px face
    assert len(select_tracks(tracks, "all")) == 2
    assert select_tracks(tracks, 0)[0].id == 0
    assert select_tracks(tracks, "1")[0].id == 1
    assert select_tracks(tracks, 5) == []
    assert tracks[0].index_of(3) == 3 and tracks[0].index_of(10) is None
    with pytest.raises(ConfigError):
        select_tracks(tracks, "biggest")


def test_fast_motion_links_by_centre_distance_and_jumps_start_new_tracks():
    moving = [[det(100 + 20 * i, 100)] for i in range(6)]  # 20 px a frame: boxes overlap little
    assert len(track_faces(moving, min_iou=0.9, max_center_shift=0.5)) == 1
    jumping = [[det(100 if i < 5 else 300, 100)] for i in range(10)]
    assert len(track_faces(jumping)) == 2


def test_long_gaps_split_tracks_and_short_tracks_are_dropped():
    frames = [[det(100, 100)] if i < 5 or i >= 20 else [] for i in range(25)]
    tracks = track_faces(frames, max_gap=8)
    assert [(t.positions[0], t.positions[-1]) for t in tracks] == [(0, 4), (20, 24)]
    flash = [[det(100, 100)] if i in (3, 4) else [] for i in range(10)]
    assert track_faces(flash, min_length=3) == []


def test_one_euro_holds_still_values_and_follows_a_step():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    assert np.allclose([f(np.array([5.0]), t / 30) for t in range(10)], 5.0)
    out = [f(np.array([15.0]), (10 + t) / 30)[0] for t in range(60)]
    assert out[0] < 10.0 < out[-1] and abs(out[-1] - 15.0) < 0.01
    with pytest.raises(ConfigError):
        OneEuroFilter(min_cutoff=0)


@pytest.mark.parametrize("clip", ["astronaut_clip", "grace_clip"])
def test_smoothing_cuts_crop_centre_jitter(request, clip):
    clip = request.getfixturevalue(clip)
    raw = track_faces(clip.detections, clip.times)[0]
    smooth = smooth_track(raw)

    def crop_centres(track):
        return np.stack([align_face(lm, (320, 240), 128).to_frame(np.array([64.0, 64.0])) for lm in track.landmarks])

    def jitter(centres):  # the motion is smooth, so frame-to-frame acceleration is jitter
        return float(np.sqrt((np.diff(centres, 2, axis=0) ** 2).sum(1).mean()))

    assert jitter(crop_centres(smooth)) < 0.5 * jitter(crop_centres(raw))
    # ... without losing the face: the smoothed centre stays within a few pixels
    truth = crop_centres(replace(raw, landmarks=clip.truth))
    assert np.abs(crop_centres(smooth) - truth).max() < 8.0


def jittered(centres: np.ndarray, size: float = 80.0, noise: float = 0.015, seed: int = 0) -> list[list[Detection]]:
    """One face a frame at `centres`, its landmarks jittered by `noise` face sizes (MTCNN's
    frame-to-frame noise on a still face is about that)."""
    rng = np.random.default_rng(seed)
    frames = []
    for x, y in centres:
        d = det(x, y, size)
        frames.append([replace(d, landmarks=d.landmarks + rng.normal(0, noise * size, (5, 2)).astype(np.float32))])
    return frames


def crop_matrices(track) -> np.ndarray:
    return np.stack([align_face(lm, (FRAME_W, FRAME_H), 128).matrix for lm in track.landmarks])


def test_a_still_face_gets_an_exactly_still_crop():
    smooth = smooth_track(track_faces(jittered(np.full((60, 2), 150.0)))[0])
    assert np.ptp(crop_matrices(smooth)[:, :, 2], axis=0).max() > 0.5  # smoothing alone leaves the crop wandering
    held = hold_still(smooth, 0.04)
    assert (crop_matrices(held) == crop_matrices(held)[0]).all()
    assert np.abs(held.landmarks - smooth.landmarks).max() <= 0.04 * 80 + 1e-3


def test_a_moving_face_is_followed_without_lag():
    """2 px a frame on an 80 px face (0.025 face sizes): held back at most 0.04 face sizes as
    it starts (3.2 px: two frames), then followed exactly; held again once it stops."""
    path = np.stack([150.0 + 2.0 * np.minimum(np.arange(60), 40), np.full(60, 120.0)], axis=1)
    smooth = smooth_track(track_faces(jittered(path))[0])
    held = hold_still(smooth, 0.04)
    gap = np.abs(held.landmarks - smooth.landmarks).max(axis=(1, 2))
    assert gap.max() <= 0.04 * 80 * 1.5  # the rigid move's bound, on single landmarks
    assert (gap[4:40] == 0).all()  # followed exactly while it moves
    assert np.ptp(crop_matrices(held)[50:], axis=0).max() == 0  # held again once it stops
    assert hold_still(smooth, 0.0) is smooth
    with pytest.raises(ConfigError):
        hold_still(smooth, -0.1)


@pytest.mark.parametrize("clip", ["astronaut_clip", "grace_clip"])
def test_holding_does_not_lag_a_real_moving_face(request, clip):
    """The animated photos (MTCNN on every frame, a pan of 1.7 px a frame, zoom and rotation):
    the held track is within 0.04 face sizes of the smoothed one, no further from the truth."""
    clip = request.getfixturevalue(clip)
    smooth = smooth_track(track_faces(clip.detections, clip.times)[0])
    held = hold_still(smooth, 0.04)
    size = float(np.median(np.sqrt(np.prod(smooth.boxes[:, 2:] - smooth.boxes[:, :2], axis=1))))
    gap = np.linalg.norm(held.landmarks - smooth.landmarks, axis=2).max(1)
    assert gap.max() <= 0.06 * size
    error = {
        name: np.linalg.norm(t.landmarks - clip.truth, axis=2).mean()
        for name, t in (("smooth", smooth), ("held", held))
    }
    assert error["held"] <= error["smooth"] + 0.01 * size


@pytest.mark.slow
def test_a_still_photo_through_the_face_pass_gets_one_crop(astronaut, tmp_path):
    """The real face pass (MTCNN, following, One-Euro) on a still photo with camera noise:
    every frame's crop is the same; without the hold it wanders."""
    rng = np.random.default_rng(0)
    still = cv2.resize(astronaut, (FRAME_H, FRAME_H), interpolation=cv2.INTER_AREA)
    noisy = [np.clip(still + rng.normal(0, 4, still.shape), 0, 255).astype(np.uint8) for _ in range(30)]
    video = write_video(tmp_path / "still.mp4", noisy)
    held = plan_faces(video, 128, FaceSettings(min_size=40))
    matrices = np.stack([faces[0][1].matrix for faces in held.faces.values()])
    assert len(matrices) == 30 and (matrices == matrices[0]).all()
    free = plan_faces(video, 128, FaceSettings(min_size=40, hold=0))
    shifts = np.stack([faces[0][1].matrix for faces in free.faces.values()])[:, :, 2]
    assert np.ptp(shifts, axis=0).max() > 0.2  # crop px
