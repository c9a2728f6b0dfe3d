"""Face mode for apply: a first pass finds, tracks and smooths the faces of the whole
clip (small: boxes and landmarks only), then the streaming pass crops each face,
translates the crops in batches and pastes them back."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vidswap.errors import NoFaceError
from vidswap.faces import (
    Alignment,
    FaceDetector,
    align_face,
    paste_back,
    select_tracks,
    smooth_track,
    track_faces,
    warp_to_crop,
)
from vidswap.pipeline.smooth import CropSmoother
from vidswap.settings import FaceSettings
from vidswap.video import Frame, Source, open_video, use_source


@dataclass
class FacePlan:
    faces: dict[int, list[tuple[int, Alignment]]]  # frame index -> (track, alignment) of the faces there
    frames: int
    tracks: int
    warnings: list[str]

    @property
    def alignments(self) -> dict[int, list[Alignment]]:
        """Frame index -> the alignments of its faces."""
        return {index: [a for _, a in faces] for index, faces in self.faces.items()}


def plan_faces(
    source: Source | str | os.PathLike,
    crop_size: int,
    settings: FaceSettings,
    *,
    device: str = "cpu",
    start: float | None = None,
    end: float | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> FacePlan:
    """Detect faces in every frame, link them into tracks, smooth and align them."""
    detector = FaceDetector(device=device, min_prob=settings.min_prob, min_size=settings.min_size)
    detections, times, frame_size = [], [], None
    with use_source(source) as source, open_video(source, start=start, end=end) as reader:
        batch: list[Frame] = []
        for frame in reader:
            batch.append(frame)
            if len(batch) == detector.batch_size:
                detections.extend(detector.detect([f.image for f in batch]))
                batch = []
            times.append(frame.time)
            frame_size = frame.image.shape[1::-1]
            if on_frame:
                on_frame(frame.index)
        if batch:
            detections.extend(detector.detect([f.image for f in batch]))
    tracks = track_faces(detections, times, max_gap=settings.max_gap)
    chosen = [
        smooth_track(t, min_cutoff=settings.min_cutoff, beta=settings.beta)
        for t in select_tracks(tracks, settings.select)
    ]
    warnings = []
    if not chosen:
        message = f"{source.path}: no face found in {len(detections)} frames"
        if not settings.keep_faceless:
            raise NoFaceError(f"{message} (try --mode frame, a lower --min-face-prob, or --keep-faceless)")
        warnings.append(f"{message}; copied through unchanged (--keep-faceless)")
    plan: dict[int, list[tuple[int, Alignment]]] = {}
    for number, track in enumerate(chosen):
        for position, landmarks in zip(track.positions, track.landmarks):
            alignment = align_face(landmarks, frame_size, crop_size, settings.margin)
            plan.setdefault(int(position), []).append((number, alignment))
    return FacePlan(faces=plan, frames=len(detections), tracks=len(chosen), warnings=warnings)


def at_model_size(
    translate: Callable[[list[np.ndarray]], list[np.ndarray]],
    size: int,
) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """`translate` for a model smaller than the aligner's smallest crop (faces.align.aligned_size):
    crops are shrunk to the model's size (antialiased, as the training loader's resize is)
    and the translations brought back to the crop's size for pasting."""

    def run(crops: list[np.ndarray]) -> list[np.ndarray]:
        small = [cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops]
        return [cv2.resize(t, c.shape[1::-1], interpolation=cv2.INTER_LINEAR) for t, c in zip(translate(small), crops)]

    return run


def face_processor(
    translate: Callable[[list[np.ndarray]], list[np.ndarray]],
    plan: FacePlan,
    settings: FaceSettings,
    smooth: CropSmoother | None = None,
) -> Callable[[list[Frame]], list[np.ndarray]]:
    """Translate the planned faces of a batch of frames together; frames with no face
    pass through untouched. `smooth` steadies each track's translated crop before it is
    pasted (batches must come in frame order)."""

    def process(frames: list[Frame]) -> list[np.ndarray]:
        jobs = [(i, track, a) for i, f in enumerate(frames) for track, a in plan.faces.get(f.index, [])]
        inputs = [warp_to_crop(frames[i].image, a) for i, _, a in jobs]
        crops = translate(inputs) if jobs else []
        per_frame: dict[int, list] = {}
        for (i, track, alignment), source, crop in zip(jobs, inputs, crops):
            if smooth:
                crop = smooth(track, frames[i].index, source, crop)
            per_frame.setdefault(i, []).append((crop, alignment))
        return [
            paste_back(
                f.image,
                per_frame.get(i, []),
                erode=settings.erode,
                blur=settings.blur,
                color_match=settings.color_match,
            )  # fmt: skip
            for i, f in enumerate(frames)
        ]

    return process
