import numpy as np
import pytest

from vidswap.errors import ConfigError
from vidswap.faces import align_face, crop_mask, fit_frame, match_color, paste_back, warp_to_crop, warp_to_frame
from vidswap.metrics import psnr


# The crop must be at least as sharp as the face in the frame (here 2x or more); at
# 1:1 the bicubic round trip alone costs about 38-41 dB.
@pytest.mark.parametrize(("clip", "size"), [("astronaut_clip", 256), ("astronaut_clip", 512), ("grace_clip", 512)])
def test_pasting_an_unchanged_crop_reproduces_the_frame(request, clip, size):
    clip = request.getfixturevalue(clip)
    frame = clip.frames[5]
    alignment = align_face(clip.detections[5][0].landmarks, (320, 240), size)
    crop = warp_to_crop(frame, alignment)
    out = paste_back(frame, [(crop, alignment)])
    reach = np.clip(warp_to_frame(crop_mask(alignment.size), alignment), 0, 1) > 0
    assert reach.sum() > 2000  # the mask covers the face
    assert psnr(out[reach], frame[reach]) > 40
    assert np.array_equal(out[~reach], frame[~reach])


def test_a_changed_crop_lands_on_the_face_only(astronaut_clip):
    frame = astronaut_clip.frames[0]
    alignment = align_face(astronaut_clip.detections[0][0].landmarks, (320, 240), 128)
    white = np.full((128, 128, 3), 255, np.uint8)
    out = paste_back(frame, [(white, alignment)])
    centre = alignment.to_frame(np.array([64.0, 64.0])).astype(int)
    assert (out[centre[1], centre[0]] == 255).all()
    reach = np.clip(warp_to_frame(crop_mask(alignment.size), alignment), 0, 1) > 0
    assert np.array_equal(out[~reach], frame[~reach])
    assert reach.mean() < 0.4  # a face-sized patch, not the frame


def test_frames_without_faces_pass_through_untouched(astronaut_clip):
    frame = astronaut_clip.frames[17]
    assert paste_back(frame, []) is frame


def test_mask_is_feathered_and_adjustable():
    mask = crop_mask((128, 128), erode=0.05, blur=0.1)
    assert mask[64, 64] == pytest.approx(1.0)
    assert mask[0].max() == 0 and mask[:, -1].max() == 0  # the seam stays inside the crop
    assert 0 < mask[64, 12] < 1  # a soft edge, not a step
    hard = crop_mask((128, 128), erode=0.0, blur=0.0)
    assert hard.min() == 1.0
    assert crop_mask((128, 128), erode=0.2).sum() < mask.sum()
    with pytest.raises(ConfigError):
        crop_mask((128, 128), erode=0.6)


def test_full_frame_paste_back_with_a_hard_mask(astronaut_clip):
    frame = astronaut_clip.frames[0]
    fit = fit_frame((320, 240), 512, "pad")  # upscaled 1.6x: the round trip is near lossless
    out = paste_back(frame, [(warp_to_crop(frame, fit), fit)], erode=0, blur=0)
    assert psnr(out[2:-2, 2:-2], frame[2:-2, 2:-2]) > 40


def test_colour_matching_moves_lab_statistics_to_the_reference(astronaut):
    import cv2

    reference = astronaut[50:178, 150:278]
    tinted = np.clip(reference.astype(int) * [0.6, 0.9, 1.3] + 20, 0, 255).astype(np.uint8)
    matched = match_color(tinted, reference)

    def lab_mean(img):
        return cv2.cvtColor(img, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float).mean(0)

    before = np.abs(lab_mean(tinted) - lab_mean(reference)).max()
    after = np.abs(lab_mean(matched) - lab_mean(reference)).max()
    assert before > 10 and after < 2


def test_colour_match_option_in_paste_back(astronaut_clip):
    frame = astronaut_clip.frames[0]
    alignment = align_face(astronaut_clip.detections[0][0].landmarks, (320, 240), 128)
    crop = warp_to_crop(frame, alignment)
    dark = (crop * 0.5).astype(np.uint8)
    plain = paste_back(frame, [(dark, alignment)])
    matched = paste_back(frame, [(dark, alignment)], color_match=True)
    reach = warp_to_frame(crop_mask(alignment.size), alignment) > 0.99
    assert psnr(matched[reach], frame[reach]) > psnr(plain[reach], frame[reach]) + 5


@pytest.mark.parametrize("shift", [(0, 0), (-150, -110), (150, 110)])  # whole, and cut by each frame corner
def test_paste_back_blends_only_where_the_crop_reaches_as_a_whole_frame_blend_would(astronaut_clip, shift):
    frame = astronaut_clip.frames[5]
    landmarks = astronaut_clip.detections[5][0].landmarks + np.array(shift, np.float32)
    alignment = align_face(landmarks, (320, 240), 128)
    crop = np.full((128, 128, 3), (255, 0, 128), np.uint8)
    m = np.clip(warp_to_frame(crop_mask(alignment.size), alignment), 0, 1)[..., None]
    whole = frame * (1 - m) + warp_to_frame(crop, alignment).astype(np.float32) * m
    expected = np.clip(whole + 0.5, 0, 255).astype(np.uint8)
    out = paste_back(frame, [(crop, alignment)])
    assert np.abs(out.astype(int) - expected).max() <= 1 and (m > 0).sum() > 500
    assert np.array_equal(out[m[..., 0] == 0], frame[m[..., 0] == 0])
