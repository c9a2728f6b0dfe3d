import cv2
import numpy as np
import pytest

from vidswap.errors import ConfigError
from vidswap.faces import align_face, face_template, fit_frame, umeyama, warp_to_crop, warp_to_frame


def test_umeyama_recovers_a_similarity_exactly():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    m = cv2.getRotationMatrix2D((30, 40), 17.0, 1.7)
    m[:, 2] += [5, -3]
    np.testing.assert_allclose(umeyama(src, src @ m[:, :2].T + m[:, 2]), m, atol=1e-9)


def test_umeyama_never_reflects():
    src = np.array([[0, 0], [3, 0], [0, 1], [2, 2], [0.5, 1.5]], float)
    mirrored = src * [-1, 1]
    assert np.linalg.det(umeyama(src, mirrored)[:, :2]) > 0


def test_template_margin_shrinks_towards_the_centre():
    tight, wide = face_template(256, 0.0), face_template(256, 0.5)
    assert np.allclose(tight.mean(0), wide.mean(0) * 2 - 128, atol=1e-9)  # same centre line, half the spread
    assert np.ptp(wide[:, 0]) == pytest.approx(np.ptp(tight[:, 0]) / 2)
    with pytest.raises(ConfigError):
        face_template(256, -0.1)


@pytest.mark.parametrize("size", [63, 513])
def test_crop_size_is_bounded(size):
    with pytest.raises(ConfigError):
        align_face(face_template(112), (320, 240), size)


@pytest.mark.parametrize("clip", ["astronaut_clip", "grace_clip"])
def test_aligned_crops_put_the_eyes_on_the_template(request, clip, detector):
    """Re-detect the face in the aligned crops: its eyes sit on the template's."""
    clip = request.getfixturevalue(clip)
    size = 128
    template = face_template(size)
    crops = []
    for i in (0, 9, 27, 35):
        alignment = align_face(clip.detections[i][0].landmarks, (320, 240), size)
        crops.append(warp_to_crop(clip.frames[i], alignment))
        # the ground-truth eyes map onto the template too (the transform itself is right)
        assert np.abs(alignment.to_crop(clip.truth[i][:2]) - template[:2]).max() < 4.0
    for found in detector.detect(crops):
        assert len(found) == 1
        assert np.abs(found[0].landmarks[:2] - template[:2]).max() < 4.0


def test_alignment_inverse_round_trips(astronaut_clip):
    a = align_face(astronaut_clip.truth[0], (320, 240), 256)
    pts = np.array([[10.0, 20.0], [300.0, 200.0]])
    np.testing.assert_allclose(a.to_frame(a.to_crop(pts)), pts, atol=1e-9)
    assert a.to_json()["size"] == [256, 256]


@pytest.mark.parametrize("mode", ["crop", "pad"])
def test_full_frame_fit_and_back(astronaut_clip, mode):
    frame = astronaut_clip.frames[0]  # 320x240
    fit = fit_frame((320, 240), 128, mode)
    square = warp_to_crop(frame, fit)
    assert square.shape == (128, 128, 3)
    back = warp_to_frame(square, fit)
    assert back.shape == frame.shape
    if mode == "crop":  # the middle 240x240 comes back; the sides were cut off
        assert fit.to_crop(np.array([[40.0, 0.0], [280.0, 240.0]])).round(6).tolist() == [[0, 0], [128, 128]]
        middle = (slice(20, 220), slice(60, 260))
        assert np.abs(back[middle].astype(int) - frame[middle]).mean() < 12
    else:  # the whole frame fits, with grey-free letterbox bands top and bottom
        assert fit.to_crop(np.array([[0.0, 0.0], [320.0, 240.0]])).round(6).tolist() == [[0, 16], [128, 112]]
        assert np.abs(back[10:-10, 10:-10].astype(int) - frame[10:-10, 10:-10]).mean() < 12


def test_fit_frame_to_a_non_square_size():
    fit = fit_frame((1280, 720), (256, 128), "crop")
    assert fit.size == (256, 128)
    assert fit.to_crop(np.array([[640.0, 360.0]])).tolist() == [[128.0, 64.0]]
    with pytest.raises(ConfigError):
        fit_frame((1280, 720), 256, "stretch")
