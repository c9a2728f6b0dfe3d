import cv2
import numpy as np
import pytest

from vidswap.errors import ConfigError
from vidswap.faces import (
    Alignment,
    align_face,
    crop_mask,
    fit_frame,
    match_color,
    paste_back,
    paste_region,
    warp_to_crop,
    warp_to_frame,
)
from vidswap.metrics import psnr
from vidswap.metrics.identity import face_sharpness
from vidswap.pipeline.faces import FacePlan, enlargement_note
from vidswap.settings import FaceSettings


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


def test_a_face_only_paste_keeps_the_crops_background_out(astronaut_clip):
    """A model trained with train.face_mask draws no background worth keeping: with face_margin
    only the face's ellipse is pasted, so the crop's corners (hair, sky) stay the frame's own."""
    frame = astronaut_clip.frames[0]
    alignment = align_face(astronaut_clip.detections[0][0].landmarks, (320, 240), 128)
    white = np.full((128, 128, 3), 255, np.uint8)
    whole = paste_back(frame, [(white, alignment)])
    face = paste_back(frame, [(white, alignment)], face_margin=FaceSettings().margin)
    centre = alignment.to_frame(np.array([64.0, 70.0])).astype(int)
    assert (face[centre[1], centre[0]] == 255).all()  # the face itself is pasted
    corner = alignment.to_frame(np.array([20.0, 20.0])).astype(int)  # inside crop_mask, outside the face
    assert (whole[corner[1], corner[0]] == 255).all()
    assert np.array_equal(face[corner[1], corner[0]], frame[corner[1], corner[0]])
    changed_whole, changed_face = (np.abs(o.astype(int) - frame).sum(-1) > 0 for o in (whole, face))
    assert changed_face.sum() < 0.7 * changed_whole.sum()
    region = paste_region([alignment], face_margin=FaceSettings().margin)
    assert not (changed_face & ~region).any() and region.sum() < paste_region([alignment]).sum()


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


def enlarged_face(grace):
    """Grace Hopper's face as a 32 px model would give it back, colours changed (red and blue
    swapped), brought up to a 256 px crop over a 256 px square of the frame."""
    alignment = Alignment.from_matrix(np.array([[1.0, 0, -150], [0, 1, -110]]), (256, 256), grace.shape[1::-1])
    small = cv2.resize(warp_to_crop(grace, alignment), (32, 32), interpolation=cv2.INTER_AREA)[..., ::-1]
    return cv2.resize(small, (256, 256), interpolation=cv2.INTER_LINEAR), alignment


def test_restored_detail_makes_an_enlarged_face_as_sharp_as_the_frame_and_keeps_its_colours(grace):
    crop, alignment = enlarged_face(grace)
    box = (190, 150, 366, 326)  # inside the mask's full strength
    plain = paste_back(grace, [(crop, alignment)])
    restored = paste_back(grace, [(crop, alignment)], detail_from=32)
    assert face_sharpness(plain, grace, box) < 0.2
    assert 0.7 < face_sharpness(restored, grace, box) < 1.3
    x0, y0, x1, y1 = box
    coarse = [cv2.GaussianBlur(im, (0, 0), 8)[y0:y1, x0:x1] for im in (plain, restored, grace)]
    assert psnr(coarse[1], coarse[0]) > 35  # the model's colours and shapes
    assert psnr(coarse[1], coarse[2]) < 25  # not the frame's
    assert np.array_equal(paste_back(grace, [(crop, alignment)], detail_from=256), plain)  # no enlargement


def test_the_enlargement_note_names_what_works_and_is_quiet_when_it_is_not_needed(grace):
    _, alignment = enlarged_face(grace)
    plan = FacePlan(faces={0: [(0, alignment)]}, frames=1, tracks=1, warnings=[])
    note = enlargement_note(plan, 32, FaceSettings(), "clip.mp4")
    assert note.startswith("clip.mp4: the face crops are about 256 px on screen, 8.0x the model's 32 px")
    assert "--size 128 or 256" in note and "--face-detail restore" in note and "\n" not in note
    assert enlargement_note(plan, 128, FaceSettings(), "clip.mp4") is None  # 2x: sharp enough
    assert enlargement_note(plan, 32, FaceSettings(detail="restore"), "clip.mp4") is None
    assert enlargement_note(FacePlan({}, 1, 0, []), 32, FaceSettings(), "clip.mp4") is None
