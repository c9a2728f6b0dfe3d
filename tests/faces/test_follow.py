import numpy as np
import pytest

from tests.faces.helpers import COVERED
from vidswap.errors import ConfigError
from vidswap.faces import FaceFollower, compare_tracks, track_faces
from vidswap.pipeline.faces import find_faces
from vidswap.settings import FaceSettings


def _errors(found, reference):
    """Landmark distances between two per-frame detection lists, in face sizes."""
    return np.concatenate(
        [
            np.linalg.norm(f[0].landmarks - r[0].landmarks, axis=1) / np.sqrt(r[0].area)
            for f, r in zip(found, reference)
            if f and r
        ]
    )


def test_downscaled_detection_places_landmarks_like_the_full_frame_search(detector, full_detector, astronaut, grace):
    assert detector.scale == pytest.approx(12 / 40) and full_detector.scale == 1.0
    for photo in (astronaut, grace):
        fast, full = detector.detect_one(photo), full_detector.detect_one(photo)
        assert len(fast) == len(full) == 1
        assert _errors([fast], [full]).max() < 0.04


def test_following_detects_a_quarter_of_the_frames_and_keeps_the_landmarks(detector, full_detector, astronaut_clip):
    frames = astronaut_clip.frames
    follow = FaceFollower(detector, every=8)
    found = [faces for start in range(0, len(frames), 5) for faces in follow(frames[start : start + 5])]
    reference = full_detector.detect(frames)
    # scheduled every 8 frames, plus the frames of the grey card and the next check for the face
    assert follow.detected <= len(frames) // 3
    assert [i for i, f in enumerate(found) if not f] == [i for i, f in enumerate(reference) if not f]
    errors = _errors(found, reference)
    assert np.median(errors) < 0.015 and np.percentile(errors, 95) < 0.04
    # and against the known motion: no drift over the followed stretches
    truth = astronaut_clip.truth
    size = np.sqrt(reference[0][0].area)
    drift = [np.linalg.norm(f[0].landmarks - t, axis=1).max() / size for f, t in zip(found, truth) if f]
    assert max(drift) < 0.08


def test_a_scene_cut_is_searched_at_once(detector, astronaut_clip, grace_clip):
    frames = astronaut_clip.frames[:10] + grace_clip.frames[:10]
    follow = FaceFollower(detector, every=30)
    found = follow(frames)
    assert follow.detected == 2  # frame 0 (scheduled) and the cut at frame 10
    for i in (9, 10):
        truth = (astronaut_clip.truth if i < 10 else grace_clip.truth)[i % 10]
        assert np.abs(found[i][0].landmarks - truth).max() < 6.0


def test_every_frame_following_is_plain_detection(detector, astronaut_clip):
    follow = FaceFollower(detector, every=1)
    found = follow(astronaut_clip.frames[:6])
    assert follow.detected == 6
    for f, d in zip(found, astronaut_clip.detections[:6]):
        np.testing.assert_allclose(f[0].landmarks, d[0].landmarks, atol=0.5)
    with pytest.raises(ConfigError):
        FaceFollower(detector, every=0)


def test_the_face_pass_keeps_its_tracks_with_following(astronaut_video):
    settings = dict(min_size=40, select="all")
    fast = find_faces(astronaut_video, FaceSettings(detect_every=8, **settings))
    full = find_faces(astronaut_video, FaceSettings(full_detect=True, **settings))
    assert fast.frames == full.frames == 36 and full.detected == 36 and fast.detected <= 12
    agreement = compare_tracks(full.tracks, fast.tracks)
    assert len(full.tracks) == len(fast.tracks) == 1 and agreement.lost == agreement.split == 0
    assert agreement.percentile(50) < 0.015 and agreement.percentile(95) < 0.04
    # the grey card is bridged in both (gap fill): one track over the whole clip
    assert fast.tracks[0].positions.tolist() == list(range(36))


def test_compare_tracks_counts_lost_and_split_tracks(astronaut_clip):
    whole = track_faces(astronaut_clip.detections, max_gap=8)
    halves = track_faces(astronaut_clip.detections, max_gap=2)  # the grey card splits the track
    assert len(whole) == 1 and len(halves) == 2
    assert compare_tracks(whole, whole).errors.max() == 0.0
    split = compare_tracks(whole, halves)
    assert split.split == 1 and split.lost == 1  # the covered frames are interpolated only in `whole`
    assert compare_tracks(whole, []).lost == 1
    assert min(COVERED) > 0
