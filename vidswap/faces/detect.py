"""Face detection with facenet-pytorch's MTCNN (its weights ship inside the wheel).

Frames are detected in batches of equal-sized images; the result for each frame is
a list of `Detection`s, largest first. Images too small for MTCNN give no faces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


class FaceDetector:
    """Batched MTCNN. `min_prob` drops weak detections; `min_size` (pixels, the face
    box's shorter side) is also MTCNN's smallest pyramid scale, so raising it is the
    cheapest way to speed detection up on large frames."""

    def __init__(
        self,
        *,
        device: str = "auto",
        min_prob: float = 0.9,
        min_size: int = 20,
        batch_size: int = 8,
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
        self._mtcnn = MTCNN(keep_all=True, min_face_size=min_size, device=self.device).eval()

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Faces in each of `images` (HxWx3 uint8 RGB), largest first."""
        results: list[list[Detection]] = [[] for _ in images]
        # MTCNN batches only images of one size: group by shape, keeping positions
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"expected an HxWx3 image, got shape {image.shape}")
            # below min_size MTCNN has no pyramid scale and raises: no face possible
            if min(image.shape[:2]) >= self.min_size:
                by_shape.setdefault(image.shape, []).append(i)
        for positions in by_shape.values():
            for start in range(0, len(positions), self.batch_size):
                chunk = positions[start : start + self.batch_size]
                batch = np.stack([np.ascontiguousarray(images[i], dtype=np.uint8) for i in chunk])
                boxes, probs, points = self._mtcnn.detect(batch, landmarks=True)
                for i, b, p, pts in zip(chunk, boxes, probs, points):
                    results[i] = self._to_detections(b, p, pts)
        return results

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
