"""Faces through consecutive frames at a fraction of MTCNN's cost: detect every few
frames (batched), and in between carry each face along optical flow and let MTCNN's last
stage (ONet) place it again on the full-resolution frame.

Detection runs on a schedule (every `every` frames), at a scene cut, when a carried face's
ONet confidence falls below the detector's `min_prob`, and, while fewer faces are carried
than the last detection found, every few frames (a face that left may come back, or a
new one enter). The output is a list of `Detection`s a frame, as `FaceDetector.detect`
gives, so tracking, gap filling and smoothing downstream are unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vidswap.errors import ConfigError
from vidswap.faces.align import umeyama
from vidswap.faces.detect import Detection, FaceDetector, square

CUT_THRESHOLD = 30.0  # mean absolute grey difference (0-255) of two thumbnails that marks a scene cut
_THUMB = (32, 32)
_LK = dict(winSize=(21, 21), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
_GRID = np.stack(np.meshgrid(np.linspace(0.25, 0.75, 4), np.linspace(0.25, 0.75, 4)), -1).reshape(-1, 2)


@dataclass
class _Carried:
    key_box: np.ndarray  # (4,) ONet's square input box when the face was last detected
    key_landmarks: np.ndarray  # (5, 2) its landmarks then
    landmarks: np.ndarray  # (5, 2) landmarks in the previous frame


class FaceFollower:
    """Call with consecutive frames (HxWx3 uint8 RGB, any number at a time) to get their
    faces; `every=1` detects every frame (the reference path)."""

    def __init__(self, detector: FaceDetector, every: int = 8):
        if every < 1:
            raise ConfigError(f"detect every must be at least 1 frame, got {every}")
        self.detector, self.every = detector, every
        self.detected = 0  # frames MTCNN searched, scheduled or not
        self._position = 0
        self._carried: list[_Carried] = []
        self._expected = 0  # faces recently found: fewer carried means one is missing
        self._complete_at = 0  # position of the last detection that found them all
        self._since = 0  # frames since the last detection
        self._gray: np.ndarray | None = None
        self._thumb: np.ndarray | None = None

    def __call__(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        scheduled = [i for i in range(len(images)) if (self._position + i) % self.every == 0]
        found = dict(zip(scheduled, self.detector.detect([images[i] for i in scheduled])))
        self.detected += len(scheduled)
        out = []
        for i, image in enumerate(images):
            gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            thumb = cv2.resize(gray, _THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
            faces = found.get(i)
            if faces is None:
                faces = self._carry(image, gray, thumb)
                if faces is None:  # a cut, a lost face, or one missing: search this frame
                    faces = self.detector.detect_one(image)
                    self.detected += 1
                    self._restart(faces)
            else:
                self._restart(faces)
            out.append(faces)
            self._gray, self._thumb = gray, thumb
            self._since += 1
            self._position += 1
        return out

    def _carry(self, image: np.ndarray, gray: np.ndarray, thumb: np.ndarray) -> list[Detection] | None:
        """The carried faces in this frame, or None when it must be searched instead."""
        if self._gray is None or float(np.abs(thumb - self._thumb).mean()) > CUT_THRESHOLD:
            return None
        if len(self._carried) < self._expected:
            if self._position - self._complete_at > 2 * self.every:
                self._expected = len(self._carried)  # it has gone for good
            elif self._since >= max(1, self.every // 4):
                return None
        if not self._carried:
            return []
        boxes = np.stack([self._predict(c, gray) for c in self._carried])
        placed, probs, landmarks = self.detector.place(image, boxes)
        if probs.min() < self.detector.min_prob:
            return None
        for c, lm in zip(self._carried, landmarks):
            c.landmarks = lm
        return [Detection(b, lm, float(p)) for b, p, lm in zip(placed, probs, landmarks)]

    def _predict(self, carried: _Carried, gray: np.ndarray) -> np.ndarray:
        """ONet's input box for this frame: the landmarks and a grid inside the face moved
        along Lucas-Kanade flow from the previous frame; the box follows the landmarks."""
        lm = carried.landmarks
        lo, hi = lm.min(0), lm.max(0)
        side = float(max(hi - lo))
        points = np.concatenate([lm, lo - side * 0.25 + _GRID * (hi - lo + side * 0.5)]).astype(np.float32)
        # flow on a window around the face only: the pyramids stay small on a 4K frame
        h, w = gray.shape
        x0, y0 = (np.maximum(lo - 2 * side, 0)).astype(int)
        x1, y1 = np.minimum(hi + 2 * side, (w, h)).astype(int)
        offset = np.array([x0, y0], np.float32)
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            self._gray[y0:y1, x0:x1], gray[y0:y1, x0:x1], points - offset, None, **_LK
        )
        good = status.ravel() == 1
        if good.sum() < 3:
            return carried.key_box  # no flow: ONet decides whether the face is still there
        motion = umeyama(points[good], moved[good] + offset)
        predicted = lm @ motion[:, :2].T + motion[:, 2]
        # the key frame's box, carried by the similarity from the key landmarks to these
        to_now = umeyama(carried.key_landmarks, predicted)
        center = (carried.key_box[:2] + carried.key_box[2:]) / 2 @ to_now[:, :2].T + to_now[:, 2]
        half = (carried.key_box[2] - carried.key_box[0]) / 2 * float(np.sqrt(abs(np.linalg.det(to_now[:, :2]))))
        return np.concatenate([center - half, center + half]).astype(np.float32)

    def _restart(self, faces: list[Detection]) -> None:
        """Carry these freshly detected faces from here on. While fewer are found than
        before, the frame is searched every few frames for up to two schedules."""
        self._carried = [_Carried(square(f.box[None])[0], f.landmarks, f.landmarks) for f in faces]
        if len(faces) >= self._expected:
            self._expected, self._complete_at = len(faces), self._position
        self._since = 0
