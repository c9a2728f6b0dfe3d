"""Face mode for apply: a first pass finds, tracks and smooths the faces of the whole
clip (small: boxes and landmarks only), then the streaming pass crops each face,
translates the crops in batches and pastes them back."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vidswap.choices import FaceSelection
from vidswap.errors import NoFaceError
from vidswap.faces import (
    Alignment,
    FaceDetector,
    FaceFollower,
    Track,
    align_face,
    hold_still,
    paste_back,
    paste_region,
    select_tracks,
    smooth_track,
    track_faces,
    warp_to_crop,
)
from vidswap.faces.blend import frame_pixels_per_model_pixel
from vidswap.pipeline.smooth import FlowSmoother
from vidswap.pipeline.stream import run_pipeline
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


@dataclass
class FaceTracks:
    tracks: list[Track]  # the selected tracks, smoothed; positions count the clip's (windowed) frames
    frames: int
    frame_size: tuple[int, int] | None  # width, height; None when no frame was read
    detected: int  # frames MTCNN searched (the others followed their faces)


def find_faces(
    source: Source | str | os.PathLike,
    settings: FaceSettings,
    *,
    device: str = "cpu",
    start: float | None = None,
    end: float | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> FaceTracks:
    """Find the faces of every frame (detected every `settings.detect_every` frames and
    followed in between, or searched in every frame with `full_detect`; decoding overlaps
    detection), link them into tracks, select and smooth them (a still face held still)."""
    detector = FaceDetector(
        device=device, min_prob=settings.min_prob, min_size=settings.min_size, downscale=not settings.full_detect
    )
    follow = FaceFollower(detector, every=1 if settings.full_detect else settings.detect_every)
    detections, times, frame_size = [], [], None

    def find(frames: list[Frame]) -> list[tuple[Frame, list]]:
        return list(zip(frames, follow([f.image for f in frames])))

    def keep(result: tuple[Frame, list]) -> None:
        nonlocal frame_size
        frame, found = result
        detections.append(found)
        times.append(frame.time)
        frame_size = frame.image.shape[1::-1]
        if on_frame:
            on_frame(frame.index)

    with use_source(source) as source, open_video(source, start=start, end=end) as reader:
        run_pipeline(iter(reader), find, keep, batch_size=detector.batch_size, queue_size=2 * detector.batch_size)
    tracks = track_faces(detections, times, max_gap=settings.max_gap)
    chosen = [
        hold_still(smooth_track(t, min_cutoff=settings.min_cutoff, beta=settings.beta), settings.hold)
        for t in select_tracks(tracks, settings.select)
    ]
    return FaceTracks(chosen, len(detections), frame_size, follow.detected)


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
    """The faces of every frame (find_faces), aligned for translation."""
    with use_source(source) as source:
        found = find_faces(source, settings, device=device, start=start, end=end, on_frame=on_frame)
    warnings = []
    if not found.tracks:
        message = f"{source.path}: no face found in {found.frames} frames"
        if not settings.keep_faceless:
            raise NoFaceError(f"{message} (try --mode frame, a lower --min-face-prob, or --keep-faceless)")
        warnings.append(f"{message}; copied through unchanged (--keep-faceless)")
    plan: dict[int, list[tuple[int, Alignment]]] = {}
    for number, track in enumerate(found.tracks):
        for position, landmarks in zip(track.positions, track.landmarks):
            alignment = align_face(landmarks, found.frame_size, crop_size, settings.margin)
            plan.setdefault(int(position), []).append((number, alignment))
    return FacePlan(faces=plan, frames=found.frames, tracks=len(found.tracks), warnings=warnings)


def face_regions(
    source: Source, select: FaceSelection = "largest", on_frame: Callable[[int], None] | None = None
) -> Callable[[int], np.ndarray | None]:
    """frame index -> HxW bool: where face mode pastes the faces found in `source` (as apply
    finds them: the largest track, or all), None in a frame without one. For judging a
    face-mode output on its faces (vidswap eval --on faces | all-faces)."""
    settings = FaceSettings(keep_faceless=True, select=select)
    plan = plan_faces(source, 128, settings, on_frame=on_frame)  # any crop side: same region
    if plan.frames < 2:
        return lambda index: None  # a still picture: no pair of frames to judge, face or not
    if not plan.tracks:
        raise NoFaceError(f"{source.path}: no face found in {plan.frames} frames: nothing to judge on the faces "
                          "(drop --on to judge the whole frame)")  # fmt: skip
    return lambda index: paste_region([a for _, a in plan.faces.get(index, [])])


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


SOFT_ENLARGEMENT = 2.0  # frame pixels per model pixel above which a pasted face looks soft


def enlargement_note(plan: FacePlan, model_size: int, settings: FaceSettings, name: str) -> str | None:
    """A warning when the faces on screen are much larger than the model's crop (the median
    face's enlargement above SOFT_ENLARGEMENT) and no detail is restored: what works instead."""
    factors = [frame_pixels_per_model_pixel(a, model_size) for faces in plan.alignments.values() for a in faces]
    if not factors or settings.detail == "restore":
        return None
    factor = float(np.median(factors))
    if factor <= SOFT_ENLARGEMENT:
        return None
    return (
        f"{name}: the face crops are about {factor * model_size:.0f} px on screen, {factor:.1f}x the model's "
        f"{model_size} px: the pasted face will look softer than the frame; use a model trained at a larger size "
        f"(--size 128 or 256), or --face-detail restore"
    )


def face_processor(
    translate: Callable[[list[np.ndarray]], list[np.ndarray]],
    plan: FacePlan,
    settings: FaceSettings,
    smooth: FlowSmoother | None = None,
    model_size: int = 0,
    face_only: bool = False,
) -> Callable[[list[Frame]], list[np.ndarray]]:
    """Translate the planned faces of a batch of frames together; frames with no face
    pass through untouched. `smooth` steadies the pasted faces in frame coordinates, only
    where they were pasted (batches must come in frame order; a frame without a face drops
    its history). `model_size`: the model's crop side, for settings.detail. `face_only`: paste
    the face's ellipse, not the whole crop (a model trained with train.face_mask)."""
    detail_from = model_size if settings.detail == "restore" else 0
    face_margin = settings.margin if face_only else None

    def steady(frame: Frame, pasted: np.ndarray, alignments: list) -> np.ndarray:
        if not alignments:
            smooth.reset()
            return pasted
        return smooth(frame.image, pasted, region=paste_region(alignments, settings.erode, settings.blur, face_margin))

    def process(frames: list[Frame]) -> list[np.ndarray]:
        jobs = [(i, a) for i, f in enumerate(frames) for _, a in plan.faces.get(f.index, [])]
        crops = translate([warp_to_crop(frames[i].image, a) for i, a in jobs]) if jobs else []
        per_frame: dict[int, list] = {}
        for (i, alignment), crop in zip(jobs, crops):
            per_frame.setdefault(i, []).append((crop, alignment))
        pasted = [
            paste_back(
                f.image,
                per_frame.get(i, []),
                erode=settings.erode,
                blur=settings.blur,
                color_match=settings.color_match,
                detail_from=detail_from,
                face_margin=face_margin,
            )  # fmt: skip
            for i, f in enumerate(frames)
        ]
        if not smooth:
            return pasted
        return [steady(f, out, [a for _, a in per_frame.get(i, [])]) for i, (f, out) in enumerate(zip(frames, pasted))]

    return process
