import numpy as np
import pytest

from vidswap.errors import ConfigError


def _eyes_above_mouth(det) -> bool:
    lm = det.landmarks
    return lm[0, 1] < lm[2, 1] < lm[3, 1] and lm[1, 1] < lm[2, 1] < lm[4, 1] and lm[0, 0] < lm[1, 0]


def test_finds_the_face_in_both_photos(detector, astronaut, grace):
    for photo, (cx, cy) in ((astronaut, (224, 117)), (grace, (265, 230))):
        faces = detector.detect_one(photo)
        assert len(faces) == 1
        face = faces[0]
        assert face.score > 0.99
        assert abs(face.center[0] - cx) < 20 and abs(face.center[1] - cy) < 25
        assert _eyes_above_mouth(face)
        assert face.box.shape == (4,) and face.landmarks.shape == (5, 2)


def test_batched_matches_one_at_a_time(detector, astronaut_clip):
    frames = astronaut_clip.frames[:5]
    one_by_one = [detector.detect_one(f) for f in frames]
    for single, batched in zip(one_by_one, astronaut_clip.detections[:5]):
        assert len(single) == len(batched) == 1
        np.testing.assert_allclose(single[0].box, batched[0].box, atol=0.5)


def test_mixed_sizes_in_one_call(detector, astronaut, grace):
    found = detector.detect([astronaut, grace, astronaut[:300, :300]])
    assert [len(f) for f in found] == [1, 1, 1]


@pytest.mark.parametrize("side", [1, 5, 12, 19, 20, 24])
def test_tiny_images_are_no_face_not_an_error(detector, side):
    assert detector.detect([np.full((side, side, 3), 128, np.uint8)]) == [[]]


def test_blank_frame_has_no_face(detector):
    assert detector.detect_one(np.zeros((240, 320, 3), np.uint8)) == []


@pytest.mark.parametrize("clip", ["astronaut_clip", "grace_clip"])
def test_detects_nearly_every_visible_frame_and_no_covered_one(request, clip):
    clip = request.getfixturevalue(clip)
    visible = [i for i in range(len(clip.frames)) if i not in clip.covered]
    hits = sum(len(clip.detections[i]) == 1 for i in visible)
    assert hits >= 0.95 * len(visible)
    assert all(not clip.detections[i] for i in clip.covered)
    # landmarks agree with the ground-truth motion to a few pixels
    errors = [np.abs(clip.detections[i][0].landmarks - clip.truth[i]).max() for i in visible if clip.detections[i]]
    assert np.median(errors) < 3.0


def test_min_size_filters_faces_smaller_than_it(astronaut, astronaut_clip):
    from vidswap.faces import FaceDetector

    big_only = FaceDetector(device="cpu", min_size=80)  # faces in the clip are ~50-70 px
    assert big_only.detect(astronaut_clip.frames[:2]) == [[], []]
    assert len(big_only.detect_one(astronaut)) == 1  # ~90 px in the photo


def test_bad_thresholds_are_config_errors():
    from vidswap.faces import FaceDetector

    with pytest.raises(ConfigError):
        FaceDetector(min_prob=1.5)
    with pytest.raises(ConfigError):
        FaceDetector(min_size=4)
