"""Face detection with facenet-pytorch's MTCNN (its weights ship inside the wheel).

Frames are detected in batches of equal-sized images; the result for each frame is
a list of `Detection`s, largest first. Images too small for MTCNN give no faces.

By default MTCNN searches a copy shrunk until a face of `min_size` is MTCNN's smallest
(12 px, its first network's window), and its last network (ONet) then places each face's
box and landmarks again on the full-resolution image, so precision does not drop."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from vidswap.device import pick_device
from vidswap.errors import ConfigError


@dataclass(frozen=True)
class Detection:
    box: np.ndarray  # (4,) float32: x1, y1, x2, y2 in pixels
    landmarks: np.ndarray  # (5, 2) float32: image-left eye, image-right eye, nose, mouth left, mouth right
    score: float  # MTCNN's face probability

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> np.ndarray:
        return (self.box[:2] + self.box[2:]) / 2


COPY_MIN_FACE = 12  # pixels: MTCNN's smallest findable face (its first network's window)
_ONET_SIDE = 48
_DETECT_THREADS = max(1, len(os.sched_getaffinity(0)) - 1)  # one core is left to the video decoder


class FaceDetector:
    """Batched MTCNN. `min_prob` drops weak detections; `min_size` (pixels, the face
    box's shorter side) is also MTCNN's smallest pyramid scale, so raising it is the
    cheapest way to speed detection up on large frames. `downscale=False` searches the
    full-resolution frame (the reference path; extract then searches every frame too)."""

    def __init__(
        self,
        *,
        device: str = "auto",
        min_prob: float = 0.9,
        min_size: int = 20,
        batch_size: int = 8,
        downscale: bool = True,
    ):
        from facenet_pytorch import MTCNN  # 3 s to import (torchvision, requests): only when detecting

        if not 0.0 <= min_prob <= 1.0:
            raise ConfigError(f"min_prob must be in [0, 1], got {min_prob}")
        if min_size < 12 or batch_size < 1:
            raise ConfigError(f"min_size must be >= 12 and batch_size >= 1, got {min_size}, {batch_size}")
        self.device = pick_device(device)
        self.min_prob = min_prob
        self.min_size = min_size
        self.batch_size = batch_size
        self.downscale = downscale  # False: the reference path, which extract also searches every frame with
        # the copy's scale: a face of min_size there is COPY_MIN_FACE pixels
        self.scale = min(1.0, COPY_MIN_FACE / min_size) if downscale else 1.0
        self._mtcnn = MTCNN(keep_all=True, min_face_size=round(min_size * self.scale), device=self.device).eval()

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Faces in each of `images` (HxWx3 uint8 RGB), largest first."""
        results: list[list[Detection]] = [[] for _ in images]
        # MTCNN batches only images of one size: group by shape, keeping positions
        by_shape: dict[tuple[int, ...], list[int]] = {}
        copies = []
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"expected an HxWx3 image, got shape {image.shape}")
            copies.append(self._copy(image))
            # below MTCNN's smallest face it has no pyramid scale and raises: no face possible
            if min(copies[i].shape[:2]) >= self._mtcnn.min_face_size:
                by_shape.setdefault(copies[i].shape, []).append(i)
        for positions in by_shape.values():
            for start in range(0, len(positions), self.batch_size):
                chunk = positions[start : start + self.batch_size]
                batch = np.stack([copies[i] for i in chunk])
                with _torch_threads(self.device, _DETECT_THREADS):
                    boxes, probs, points = self._mtcnn.detect(batch, landmarks=True)
                for i, b, p, pts in zip(chunk, boxes, probs, points):
                    if self.scale < 1.0 and b is not None:
                        b, p, pts = self.place(images[i], square(np.asarray(b, np.float32)[:, :4] / self.scale))
                    results[i] = self._to_detections(b, p, pts)
        return results

    def _copy(self, image: np.ndarray) -> np.ndarray:
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if self.scale == 1.0:
            return image
        h, w = image.shape[:2]
        size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def place(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """MTCNN's last stage (ONet) on the full-resolution `image` at square `boxes` (n, 4):
        the refined boxes (n, 4), face probabilities (n,) and landmarks (n, 5, 2), computed
        as facenet-pytorch computes them from ONet's input boxes."""
        h, w = image.shape[:2]
        ints = np.trunc(boxes).astype(int)
        crops, valid = [], []
        for x1, y1, x2, y2 in ints:
            x, y, ex, ey = max(x1, 1), max(y1, 1), min(x2, w), min(y2, h)
            ok = ex > x and ey > y
            crop = image[y - 1 : ey, x - 1 : ex] if ok else np.zeros((1, 1, 3), np.uint8)
            crops.append(cv2.resize(crop, (_ONET_SIDE, _ONET_SIDE), interpolation=cv2.INTER_AREA))
            valid.append(ok)
        batch = torch.from_numpy(np.stack(crops)).to(self.device).permute(0, 3, 1, 2).float()
        with torch.inference_mode(), _torch_threads(self.device, 1):  # a few 48 px crops
            reg, points, prob = (t.float().cpu().numpy() for t in self._mtcnn.onet((batch - 127.5) * 0.0078125))
        size = boxes[:, 2:] - boxes[:, :2] + 1  # facenet-pytorch's inclusive box size
        landmarks = np.stack([points[:, :5], points[:, 5:]], axis=2) * size[:, None] + boxes[:, None, :2] - 1
        placed = boxes + reg * np.concatenate([size, size], axis=1)
        return placed.astype(np.float32), np.where(valid, prob[:, 1], 0.0), landmarks.astype(np.float32)

    def detect_one(self, image: np.ndarray) -> list[Detection]:
        return self.detect([image])[0]

    def _to_detections(self, boxes, probs, points) -> list[Detection]:
        if boxes is None:  # MTCNN's "nothing found"
            return []
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        probs = np.asarray(probs, dtype=np.float32).reshape(-1)
        points = np.asarray(points, dtype=np.float32).reshape(-1, 5, 2)
        found = [
            Detection(box=b, landmarks=pts, score=float(p))
            for b, p, pts in zip(boxes, probs, points)
            if p >= self.min_prob and min(b[2] - b[0], b[3] - b[1]) >= self.min_size
        ]
        return sorted(found, key=lambda d: d.area, reverse=True)


@contextmanager
def _torch_threads(device: str, count: int):
    """Run torch on `count` CPU threads for a while. MTCNN's layers are small: threads
    that do not each get a core spin waiting on one another (on the 2-core machine two
    threads beside a decoder ran MTCNN 4-5 times slower than one)."""
    if device != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def square(boxes: np.ndarray) -> np.ndarray:
    """(n, 4) boxes made square about their centres on their longer side (MTCNN's `rerec`)."""
    center = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(axis=1, keepdims=True) / 2
    return np.concatenate([center - half, center + half], axis=1)
