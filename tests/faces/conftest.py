"""Real faces from package-shipped photos, animated into short clips with a known
ground-truth motion (pan, zoom, a small rotation, frames with the face covered)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.faces.helpers import COVERED, FRAME_H, FRAME_W, N_FRAMES, write_video


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage.data import astronaut

    return astronaut()


@pytest.fixture(scope="session")
def grace() -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="session")
def detector():
    from vidswap.faces import FaceDetector

    return FaceDetector(device="cpu", min_size=40)  # the clips' faces are 48-80 px; fewer scales, faster


@dataclass
class Clip:
    frames: list[np.ndarray]
    times: np.ndarray
    matrices: list[np.ndarray]  # source photo -> frame, per frame
    truth: np.ndarray  # (n, 5, 2) ground-truth landmarks in each frame
    detections: list  # detector output per frame
    covered: range


def animate(photo: np.ndarray, center: np.ndarray, n: int = N_FRAMES, seed: int = 0):
    """Frames of `photo` under a slow pan, zoom and a +-4 degree rotation about
    `center`, with camera noise (what makes raw detections jitter)."""
    rng = np.random.default_rng(seed)
    frames, matrices = [], []
    for i in range(n):
        s = i / (n - 1)
        scale = 0.55 + 0.15 * s
        angle = 4.0 * np.sin(2 * np.pi * s)
        m = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), angle, scale)
        m[:, 2] += [FRAME_W / 2 - center[0] + (s - 0.5) * 60, FRAME_H / 2 - center[1] + 15 * np.sin(np.pi * s)]
        frame = cv2.warpAffine(photo, m, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        noisy = frame.astype(np.float32) + rng.normal(0, 4, frame.shape)
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
        matrices.append(m)
    return frames, matrices


def make_clip(photo: np.ndarray, detector, seed: int = 0) -> Clip:
    """Animate `photo` and detect faces in every frame; a grey card hides the face in COVERED."""
    reference = detector.detect_one(photo)[0]
    frames, matrices = animate(photo, reference.center, seed=seed)
    reference = reference.landmarks
    truth = np.stack([reference @ m[:, :2].T + m[:, 2] for m in matrices])
    for i in COVERED:
        x1, y1 = truth[i].min(0) - 25
        x2, y2 = truth[i].max(0) + 25
        cv2.rectangle(frames[i], (int(x1), int(y1)), (int(x2), int(y2)), (128, 128, 128), -1)
    return Clip(frames, np.arange(len(frames)) / 25.0, matrices, truth, detector.detect(frames), COVERED)


@pytest.fixture(scope="session")
def astronaut_clip(astronaut, detector) -> Clip:
    return make_clip(astronaut, detector)


@pytest.fixture(scope="session")
def grace_clip(grace, detector) -> Clip:
    return make_clip(grace, detector, seed=1)


@pytest.fixture(scope="session")
def astronaut_video(astronaut_clip, tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("videos") / "astronaut.mp4", astronaut_clip.frames)


@pytest.fixture(scope="session")
def full_detector():
    """The reference path: MTCNN on the full-resolution frame."""
    from vidswap.faces import FaceDetector

    return FaceDetector(device="cpu", min_size=40, downscale=False)
