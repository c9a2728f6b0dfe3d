"""The identity judge with real dlib models on real faces: scikit-image's astronaut (Eileen
Collins) and matplotlib's Grace Hopper are two people; moved copies of one are one person."""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.helpers import astronaut, make_video, run_cli
from tests.photos import grace_hopper
from vidswap.errors import MissingDependency
from vidswap.metrics.identity import (
    _MODEL_POINTS,
    _POSE_LANDMARKS,
    SAME_PERSON_DISTANCE,
    blurred_like,
    eye_opening,
    head_pose,
    mouth_opening,
)

dlib = pytest.importorskip("dlib", reason="the faces-eval extra is not installed")


@pytest.fixture(scope="module")
def judge():
    from vidswap.metrics.identity import FaceJudge

    return FaceJudge()


def read(judge, image):
    box = judge.find(image)
    assert box is not None
    return judge.read(image, box)


def rotated(image, degrees, centre):
    turn = cv2.getRotationMatrix2D(centre, degrees, 1.0)  # counter-clockwise on screen
    return cv2.warpAffine(image, turn, image.shape[1::-1], borderMode=cv2.BORDER_REFLECT)


def distance(a, b):
    return float(np.linalg.norm(a.descriptor - b.descriptor))


# --- pure geometry: no dlib needed past the import above -------------------------------------


def projected_landmarks(yaw, pitch, roll, size=(640, 480)):
    """The generic head turned by known angles and projected by the camera head_pose assumes."""
    w, h = size
    rotation = cv2.Rodrigues(np.zeros(3))[0]
    for axis, angle in ((1, yaw), (0, pitch), (2, roll)):
        vec = np.zeros(3)
        vec[axis] = np.radians(angle)
        rotation = rotation @ cv2.Rodrigues(vec)[0]
    camera = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], np.float64)
    points, _ = cv2.projectPoints(_MODEL_POINTS, cv2.Rodrigues(rotation)[0], np.array([0.0, 0, 2000]), camera, None)
    landmarks = np.zeros((68, 2))
    landmarks[_POSE_LANDMARKS] = points.reshape(-1, 2)
    return landmarks


def test_head_pose_recovers_known_angles_of_the_generic_head():
    assert np.allclose(head_pose(projected_landmarks(0, 0, 0), (640, 480)), (0, 0, 0), atol=0.5)
    yaw, pitch, roll = head_pose(projected_landmarks(0, 0, 20), (640, 480))
    assert abs(roll - 20) < 0.5 and abs(yaw) < 0.5 and abs(pitch) < 0.5
    yaw, pitch, roll = head_pose(projected_landmarks(25, 0, 0), (640, 480))
    assert abs(yaw - 25) < 1 and abs(roll) < 1


def test_mouth_and_eye_opening_of_drawn_landmarks():
    p = np.zeros((68, 2))
    p[48], p[54] = (0, 0), (40, 0)  # mouth 40 wide
    for top, bottom in ((61, 67), (62, 66), (63, 65)):
        p[top], p[bottom] = (20, -6), (20, 6)  # lips 12 apart
    assert mouth_opening(p) == pytest.approx(12 / 40)
    for e in (36, 42):
        p[e], p[e + 3] = (0, 0), (30, 0)
        p[e + 1], p[e + 2], p[e + 4], p[e + 5] = (10, -4), (20, -4), (20, 5), (10, 5)
    assert eye_opening(p) == pytest.approx(9 / 30)


# --- real dlib on real faces --------------------------------------------------------------------


@pytest.mark.slow
def test_two_people_are_apart_and_moved_copies_of_one_are_near(judge):
    eileen, grace = read(judge, astronaut()), read(judge, grace_hopper())
    assert distance(eileen, grace) > SAME_PERSON_DISTANCE
    flipped = np.ascontiguousarray(astronaut()[:, ::-1])
    shifted = np.ascontiguousarray(astronaut()[30:, 40:])
    smaller = cv2.resize(astronaut(), None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    for copy in (flipped, shifted, smaller):
        assert distance(read(judge, copy), eileen) < SAME_PERSON_DISTANCE
        assert distance(read(judge, copy), grace) > SAME_PERSON_DISTANCE


@pytest.mark.slow
def test_rotating_the_image_changes_roll_by_the_angle_and_keeps_the_rest(judge):
    image = grace_hopper()
    still = read(judge, image)
    centre = ((still.box[0] + still.box[2]) / 2, (still.box[1] + still.box[3]) / 2)
    for degrees in (12, -12):
        turned = read(judge, rotated(image, degrees, centre))
        assert turned.pose[2] - still.pose[2] == pytest.approx(-degrees, abs=2.5)  # roll is clockwise
        assert abs(turned.pose[0] - still.pose[0]) < 5
        assert turned.mouth == pytest.approx(still.mouth, abs=0.05)
        assert turned.eyes == pytest.approx(still.eyes, abs=0.05)
    smaller = read(judge, cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    assert smaller.eyes == pytest.approx(still.eyes, abs=0.05)  # openings do not depend on the face's size


def test_the_input_is_blurred_to_the_outputs_sharpness():
    image = astronaut()
    box = (175, 76, 265, 166)  # her face
    rng = np.random.default_rng(0)
    for sigma in (2.0, 4.0):
        # blurred, then a codec's fine noise on top (which face_sharpness reads as detail)
        output = np.clip(cv2.GaussianBlur(image, (0, 0), sigma) + rng.normal(0, 2, image.shape), 0, 255)
        soft = blurred_like(image, output.astype(np.uint8), box)
        assert np.array_equal(soft, cv2.GaussianBlur(image, (0, 0), sigma))
    assert blurred_like(image, image, box) is image  # as sharp as the input: nothing to blur


def face_frames(image, count=4, size=256):
    """`count` crops of `image` around its face, drifting a few pixels each frame."""
    scale = size * 1.1 / max(image.shape[:2])
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return [np.ascontiguousarray(image[2 * i : 2 * i + size, 3 * i : 3 * i + size]) for i in range(count)]


def swapped():
    """The astronaut with Grace Hopper's face pasted over hers (dlib's boxes, widened by a third)."""
    image = astronaut().copy()
    (x0, y0, x1, y1), (gx0, gy0, gx1, gy1) = (175, 76, 265, 166), (180, 139, 366, 325)
    pad, gpad = (x1 - x0) // 3, (gx1 - gx0) // 3
    face = grace_hopper()[gy0 - gpad : gy1 + gpad, gx0 - gpad : gx1 + gpad]
    image[y0 - pad : y1 + pad, x0 - pad : x1 + pad] = cv2.resize(face, (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad))
    return image


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    root = tmp_path_factory.mktemp("people")
    Image.fromarray(astronaut()).save(root / "eileen.png")
    Image.fromarray(grace_hopper()).save(root / "grace.jpg")
    eileen = make_video(root / "eileen.mp4", face_frames(astronaut()))
    grace = make_video(root / "grace.mp4", face_frames(swapped()))
    blurred = make_video(root / "blurred.mp4", [cv2.GaussianBlur(f, (0, 0), 3) for f in face_frames(astronaut())])
    return root, eileen, grace, blurred


@pytest.mark.slow
def test_eval_takes_a_swapped_face_for_the_target_and_its_own_for_the_source(people, capsys):
    root, eileen, grace, _ = people
    code, out, err = run_cli(["eval", str(eileen), str(grace), "--json", "--source-person", str(root / "eileen.png"),
                              "--target-person", str(root / "grace.jpg")], capsys)  # fmt: skip
    assert code == 0, err
    identity = json.loads(out)["identity"]
    assert (identity["frames"], identity["faces"]) == (4, 4)
    assert identity["target_share"] == 1.0 and identity["input_target_share"] == 0.0
    assert identity["target_match"] == 1.0
    assert identity["target_distance"] < SAME_PERSON_DISTANCE < identity["source_distance"]
    assert identity["person_faces"] == {"source": 1, "target": 1}


@pytest.mark.slow
def test_eval_of_a_copy_keeps_all_motion_and_a_blur_shows_as_lost_sharpness(people, capsys):
    root, eileen, grace, blurred = people
    persons = ["--source-person", str(eileen), "--target-person", str(root / "grace.jpg")]
    code, out, err = run_cli(["eval", str(eileen), str(eileen), "--json", *persons], capsys)
    assert code == 0, err
    identity = json.loads(out)["identity"]
    assert identity["target_share"] == 0.0 and identity["person_faces"]["source"] == 4  # the video's frames
    assert identity["target_match"] == 0.0
    assert identity["pose_error"] == 0 and identity["motion"]["mouth"] == 0
    assert identity["sharpness"] == pytest.approx(1.0)
    assert identity["blurred_input_target_share"] == 0.0  # a copy: nothing blurred
    assert identity["blurred_input_source_distance"] == pytest.approx(identity["input_source_distance"])
    assert identity["blurred_input_pose_error"] == 0
    code, out, _ = run_cli(["eval", str(eileen), str(blurred), *persons], capsys)
    assert code == 0 and "whose face" in out and "target share" in out
    code, out, _ = run_cli(["eval", str(eileen), str(blurred), "--json", *persons], capsys)
    identity = json.loads(out)["identity"]
    assert identity["sharpness"] < 0.3
    # the input blurred as much as the output is judged as the output is (the output is that blur)
    assert identity["blurred_input_target_share"] == identity["target_share"]
    assert identity["blurred_input_target_distance"] == pytest.approx(identity["target_distance"], abs=0.03)
    assert identity["blurred_input_source_distance"] == pytest.approx(identity["source_distance"], abs=0.03)
    assert identity["blurred_input_source_distance"] > identity["input_source_distance"] + 0.02  # blur moves it away
    # the blur alone costs pose (dlib's landmarks on a soft face), and the input as soft costs as much
    assert identity["pose_error"] > 2
    assert identity["blurred_input_pose_error"] == pytest.approx(identity["pose_error"], abs=0.5)


@pytest.mark.slow
def test_a_face_turned_the_same_in_every_frame_shows_as_the_pose_offset(people, capsys, tmp_path):
    root, eileen, _, _ = people
    frames = face_frames(astronaut())
    centre = (frames[0].shape[1] / 2, frames[0].shape[0] / 2)
    turned = make_video(tmp_path / "turned.mp4", [rotated(f, 10, centre) for f in frames])
    persons = ["--source-person", str(eileen), "--target-person", str(root / "grace.jpg")]
    code, out, err = run_cli(["eval", str(eileen), str(turned), "--json", *persons], capsys)
    assert code == 0, err
    identity = json.loads(out)["identity"]
    assert identity["pose_offset"]["roll"] == pytest.approx(-10, abs=2.5)  # roll is clockwise
    assert identity["motion"]["roll"] == pytest.approx(abs(identity["pose_offset"]["roll"]), abs=0.5)  # every frame
    code, out, _ = run_cli(["eval", str(eileen), str(turned), *persons], capsys)
    assert code == 0 and "same in every frame" in out and "roll -" in " ".join(out.split())


def test_eval_needs_both_people_and_says_so_in_one_line(people, capsys):
    root, eileen, grace, _ = people
    code, _, err = run_cli(["eval", str(eileen), str(grace), "--source-person", str(root / "eileen.png")], capsys)
    assert code != 0 and err.strip().count("\n") == 0 and "--target-person" in err


def test_a_missing_faces_eval_extra_is_one_clear_line(people, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # what Python does when the package is absent
    from vidswap.metrics.identity import FaceJudge

    with pytest.raises(MissingDependency, match="faces-eval"):
        FaceJudge()
    root, eileen, grace, _ = people
    code, _, err = run_cli(["eval", str(eileen), str(grace), "--source-person", str(root / "eileen.png"),
                            "--target-person", str(root / "grace.jpg")], capsys)  # fmt: skip
    assert code == MissingDependency.exit_code and err.strip().count("\n") == 0 and "faces-eval" in err
