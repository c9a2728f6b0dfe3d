"""Whose face is it, and did it keep the source's motion? The identity judge of `vidswap eval
--source-person/--target-person`.

dlib's ResNet face descriptor (128 numbers; faces 0.6 or more apart are taken for different
people) and its 68-landmark shape predictor, both from the `faces-eval` extra (`dlib-bin` and
`face-recognition-models`, whose wheel ships the two model files). Each output face is compared
with the mean descriptor of each person, and its head pose (solvePnP on six landmarks against a
generic 3D face), mouth and eye opening with those of the input face in the same frame. The input
face blurred as soft as the output's is judged too: a blur alone moves a face towards other
people, so a soft output's identity figures mean something only beyond that baseline.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from vidswap.errors import InputError, MissingDependency, NoFaceError
from vidswap.metrics.image import high_frequency_energy
from vidswap.video import VIDEO_EXTENSIONS, probe, read_frames

SAME_PERSON_DISTANCE = 0.6  # dlib's threshold: descriptors nearer than this are one person

# A generic head (image axes: x right, y down, z away from the camera) at six of the 68
# landmarks: nose tip, chin, outer eye corners, mouth corners.
_MODEL_POINTS = np.array(
    [(0, 0, 0), (0, 330, 65), (-225, -170, 135), (225, -170, 135), (-150, 150, 125), (150, 150, 125)], np.float64
)
_POSE_LANDMARKS = [30, 8, 36, 45, 48, 54]


@dataclass
class FaceReading:
    box: tuple[int, int, int, int]  # left, top, right, bottom
    landmarks: np.ndarray  # 68 x 2, pixels
    descriptor: np.ndarray  # 128
    pose: tuple[float, float, float]  # yaw, pitch, roll in degrees
    mouth: float  # inner-lip gap over mouth width
    eyes: float  # eye aspect ratio, both eyes' mean


def head_pose(landmarks: np.ndarray, size: tuple[int, int]) -> tuple[float, float, float]:
    """Yaw, pitch and roll in degrees of a face's 68 landmarks in an image of `size` (w, h):
    0, 0, 0 looks straight at the camera; roll is the in-plane turn, positive clockwise on screen."""
    w, h = size
    camera = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], np.float64)  # focal length ~ width
    points = np.asarray(landmarks, np.float64)[_POSE_LANDMARKS]
    ok, rvec, _ = cv2.solvePnP(_MODEL_POINTS, points, camera, None, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return (math.nan,) * 3
    rotation, _ = cv2.Rodrigues(rvec)
    pitch, yaw, roll = cv2.RQDecomp3x3(rotation)[0]
    return float(yaw), float(_wrap(pitch)), float(roll)


def _wrap(angle: float) -> float:
    return (angle + 180) % 360 - 180


def mouth_opening(landmarks: np.ndarray) -> float:
    """Mean gap between the inner lips (landmarks 61-67, 62-66, 63-65) over the mouth's width
    (48-54): 0 closed, about 0.3-0.5 wide open."""
    p = np.asarray(landmarks, np.float64)
    gap = np.mean([np.linalg.norm(p[a] - p[b]) for a, b in ((61, 67), (62, 66), (63, 65))])
    return float(gap / max(np.linalg.norm(p[48] - p[54]), 1e-6))


def eye_opening(landmarks: np.ndarray) -> float:
    """Eye aspect ratio (Soukupova and Cech 2016), both eyes' mean: about 0.3 open, under 0.2 shut."""
    p = np.asarray(landmarks, np.float64)
    ratios = []
    for e in (36, 42):  # each eye: six landmarks, corners at e and e + 3
        vertical = np.linalg.norm(p[e + 1] - p[e + 5]) + np.linalg.norm(p[e + 2] - p[e + 4])
        ratios.append(vertical / (2 * max(np.linalg.norm(p[e] - p[e + 3]), 1e-6)))
    return float(np.mean(ratios))


def face_sharpness(output: np.ndarray, reference: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """High-frequency energy of `output` inside `box` over that of `reference` there (same size
    images): about 1 when a pasted face is as sharp as the frame it replaced, well under 1 when it
    is a small crop stretched over a large face."""
    left, top, right, bottom = _clip_box(box, reference.shape)
    if right - left < 8 or bottom - top < 8:
        return math.nan
    ref = high_frequency_energy(reference[top:bottom, left:right])
    return high_frequency_energy(output[top:bottom, left:right]) / ref if ref > 0 else math.nan


BLUR_LADDER = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)  # Gaussian sigmas (px) blurred_like tries


def blurred_like(image: np.ndarray, output: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """`image` blurred (a Gaussian of BLUR_LADDER, or not at all) to the edge strength `output`
    has inside `box`: the input's own face, as soft as the output's. A blur alone moves a face
    away from its person; blurred far enough, dlib takes the signer's face for another person
    (docs/quality.md), so a soft output is judged beside its input blurred as much."""
    left, top, right, bottom = _clip_box(box, image.shape)
    if right - left < 8 or bottom - top < 8:
        return image

    def detail(picture: np.ndarray) -> float:
        # edges after a light blur: the finest frequencies of a soft face are the codec's noise,
        # which face_sharpness counts (a face blurred by 3 px and encoded read as one blurred by 1.5)
        gray = cv2.GaussianBlur(cv2.cvtColor(picture[top:bottom, left:right], cv2.COLOR_RGB2GRAY), (0, 0), 1.0)
        return float(np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)).mean())

    wanted = detail(output)
    candidates = [image] + [cv2.GaussianBlur(image, (0, 0), sigma) for sigma in BLUR_LADDER]
    return min(candidates, key=lambda c: abs(detail(c) - wanted))


def _overlap(a, b) -> float:
    """Intersection over union of two boxes."""
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def _clip_box(box, shape) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    return max(0, left), max(0, top), min(shape[1], right), min(shape[0], bottom)


class FaceJudge:
    """dlib's HOG face detector, 68-landmark predictor and ResNet descriptor, loaded once."""

    def __init__(self) -> None:
        try:  # the faces-eval extra: imported only here
            import dlib
        except ImportError:
            raise MissingDependency("dlib-bin", "judging faces (--source-person)", extra="faces-eval") from None
        spec = importlib.util.find_spec("face_recognition_models")  # located, not imported (pkg_resources)
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependency("face-recognition-models", "judging faces (--source-person)", extra="faces-eval")
        models = Path(spec.submodule_search_locations[0]) / "models"
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
        self._descriptor = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        self._rectangle = dlib.rectangle

    def find(self, image: np.ndarray) -> tuple[int, int, int, int] | None:
        """The box of the most certain face (upsampled once, so faces from about 40 px count)."""
        boxes, scores, _ = self._detector.run(np.ascontiguousarray(image), 1, 0.0)
        if not boxes:
            return None
        best = boxes[int(np.argmax(scores))]
        return best.left(), best.top(), best.right(), best.bottom()

    def read(self, image: np.ndarray, box: tuple[int, int, int, int]) -> FaceReading:
        """Landmarks, descriptor, pose and openings of the face in `box`."""
        image = np.ascontiguousarray(image)
        shape = self._landmarks(image, self._rectangle(*box))
        landmarks = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
        descriptor = np.array(self._descriptor.compute_face_descriptor(image, shape), np.float64)
        pose = head_pose(landmarks, (image.shape[1], image.shape[0]))
        return FaceReading(box, landmarks, descriptor, pose, mouth_opening(landmarks), eye_opening(landmarks))


def sample_images(paths: Sequence[str | os.PathLike], count: int) -> Iterator[np.ndarray]:
    """About `count` RGB images spread evenly over videos (their frames) and still images."""
    per_file = max(1, math.ceil(count / max(len(paths), 1)))
    for path in map(Path, paths):
        if path.suffix.lower() not in VIDEO_EXTENSIONS:
            try:
                with Image.open(path) as im:
                    yield np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
                continue
            except OSError:
                pass  # not an image: tried as a video
        for frame in read_frames(path, _spread(_frame_count(path), per_file)):
            yield frame.image


def _frame_count(path: Path) -> int:
    info = probe(path)
    return info.main_video.frame_count or round((info.main_video.duration or 1) * 25)


def _spread(total: int, count: int) -> list[int]:
    """`count` indices spread evenly over `total` frames (each frame once at most)."""
    if total <= count:
        return list(range(total))
    return sorted({int((i + 0.5) * total / count) for i in range(count)})


@dataclass
class Person:
    descriptor: np.ndarray  # mean of the faces found
    faces: int
    images: int


def describe_person(judge: FaceJudge, images: Iterable[np.ndarray], name: str) -> Person:
    """The mean descriptor of the face in each image (images without one are skipped)."""
    found, seen = [], 0
    for image in images:
        seen += 1
        box = judge.find(image)
        if box is not None:
            found.append(judge.read(image, box).descriptor)
    if not found:
        raise NoFaceError(f"{name}: no face found in {seen} frame(s)")
    return Person(np.mean(found, axis=0), len(found), seen)


@dataclass
class IdentityReport:
    frames: int  # frame pairs looked at
    faces: int  # of them, with a face in the input
    target_share: float  # output faces nearer the target person than the source person
    target_match: float  # of them, those also within SAME_PERSON_DISTANCE of the target (a blur can be "nearer")
    target_distance: float  # output faces' mean distance to the target person's mean descriptor
    source_distance: float
    input_target_share: float  # the same for the input faces: the baseline (0 for a source clip)
    input_target_distance: float
    input_source_distance: float
    # the same for the input faces blurred to each output face's sharpness: what a blur alone scores
    blurred_input_target_share: float = math.nan
    blurred_input_target_match: float = math.nan
    blurred_input_target_distance: float = math.nan
    blurred_input_source_distance: float = math.nan
    # its mean pose error (yaw, pitch, roll) against the sharp input: what the softness alone costs,
    # as dlib's landmarks on a soft face are unsure (docs/quality.md)
    blurred_input_pose_error: float = math.nan
    motion: dict[str, float] = field(default_factory=dict)  # mean |output - input| per measure
    # mean output - input of yaw, pitch and roll: the part of the pose error that is the same in
    # every frame (a face drawn turned, or landmarks misread the same way on a soft face), not a
    # failure to follow the input's motion
    pose_offset: dict[str, float] = field(default_factory=dict)
    sharpness: float = math.nan  # median of the output face's high frequencies over the input's
    person_faces: dict[str, int] = field(default_factory=dict)

    @property
    def pose_error(self) -> float:
        """Mean of the yaw, pitch and roll errors, degrees."""
        return float(np.mean([self.motion[k] for k in ("yaw", "pitch", "roll")])) if self.faces else math.nan

    def to_dict(self) -> dict:
        data = {k: _plain(v) for k, v in self.__dict__.items() if k not in ("motion", "pose_offset")}
        data["motion"] = {k: _plain(v) for k, v in self.motion.items()}
        data["pose_offset"] = {k: _plain(v) for k, v in self.pose_offset.items()}
        data["pose_error"] = _plain(self.pose_error)
        data["same_person_distance"] = SAME_PERSON_DISTANCE
        return data


def _plain(value):
    if isinstance(value, dict):
        return value
    return None if isinstance(value, float) and math.isnan(value) else value


def _standing(readings: list[FaceReading], source: Person, target: Person) -> tuple[float, float, float, float]:
    """Of these faces: the share nearer the target's mean than the source's, the share of them also
    within SAME_PERSON_DISTANCE of it, and their mean distances to the target and to the source."""
    to_target, to_source = (np.array([np.linalg.norm(r.descriptor - p.descriptor) for r in readings])
                            for p in (target, source))  # fmt: skip
    nearer = to_target < to_source
    return (float(nearer.mean()), float((nearer & (to_target < SAME_PERSON_DISTANCE)).mean()),
            float(to_target.mean()), float(to_source.mean()))  # fmt: skip


def judge_identity(
    judge: FaceJudge,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    source: Person,
    target: Person,
    samples: int = 40,
) -> IdentityReport:
    """Judge up to `samples` frames spread over the video: the face found in each input frame,
    and what the output shows in the same place."""
    total = min(_frame_count(Path(input_path)), _frame_count(Path(output_path)))
    indices = _spread(total, samples)
    inputs = read_frames(input_path, indices)
    outputs = {f.index: f.image for f in read_frames(output_path, indices)}
    rows = []  # (output reading, input reading, sharpness)
    for frame in inputs:
        out = outputs.get(frame.index)
        if out is None:
            continue
        if out.shape != frame.image.shape:  # judged in the input's geometry
            out = cv2.resize(out, frame.image.shape[1::-1], interpolation=cv2.INTER_AREA)
        box = judge.find(frame.image)
        if box is None:
            continue
        out_box = judge.find(out)  # the output's own face where it sits on the input's, else the input's box
        out_box = out_box if out_box is not None and _overlap(out_box, box) > 0.3 else box
        rows.append((judge.read(out, out_box), judge.read(frame.image, box), face_sharpness(out, frame.image, box),
                     judge.read(blurred_like(frame.image, out, box), out_box)))  # fmt: skip
    if not inputs:
        raise InputError(f"{input_path}: no frames to judge")

    outs, ins, soft = [r[0] for r in rows], [r[1] for r in rows], [r[3] for r in rows]
    report = IdentityReport(
        frames=len(inputs),
        faces=len(rows),
        target_share=math.nan,
        target_match=math.nan,
        target_distance=math.nan,
        source_distance=math.nan,
        input_target_share=math.nan,
        input_target_distance=math.nan,
        input_source_distance=math.nan,
        person_faces={"source": source.faces, "target": target.faces},
    )
    if not rows:
        return report
    report.target_share, report.target_match, report.target_distance, report.source_distance = _standing(
        outs, source, target
    )
    report.input_target_share, _, report.input_target_distance, report.input_source_distance = _standing(
        ins, source, target
    )
    (report.blurred_input_target_share, report.blurred_input_target_match, report.blurred_input_target_distance,
     report.blurred_input_source_distance) = _standing(soft, source, target)  # fmt: skip
    for i, name in enumerate(("yaw", "pitch", "roll")):
        turned = np.array([_wrap(o.pose[i] - n.pose[i]) for o, n in zip(outs, ins)])
        report.motion[name], report.pose_offset[name] = float(np.nanmean(np.abs(turned))), float(np.nanmean(turned))
    report.blurred_input_pose_error = float(
        np.nanmean([abs(_wrap(b.pose[i] - n.pose[i])) for b, n in zip(soft, ins) for i in range(3)])
    )
    report.motion["mouth"] = float(np.mean([abs(o.mouth - n.mouth) for o, n in zip(outs, ins)]))
    report.motion["eyes"] = float(np.mean([abs(o.eyes - n.eyes) for o, n in zip(outs, ins)]))
    report.sharpness = float(np.nanmedian([r[2] for r in rows])) if any(np.isfinite(r[2]) for r in rows) else math.nan
    return report
