"""The Translator: a loaded model with its run settings (vidswap.settings), translating
images, image files or whole videos. `vidswap apply`, `vidswap batch` and the Python API
(vidswap.api) all use it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vidswap.choices import ApplyMode, HoldNorm, Smoothing, choices
from vidswap.device import pick_device
from vidswap.errors import ConfigError
from vidswap.faces import FaceDetector
from vidswap.faces.align import aligned_size
from vidswap.models import load_model
from vidswap.nets.held_norm import holds
from vidswap.pipeline.apply import ApplyResult, apply_video
from vidswap.pipeline.faces import at_model_size, enlargement_note, face_processor, plan_faces
from vidswap.pipeline.images import apply_image, check_image, image_output_path, is_image, plan_still_faces
from vidswap.pipeline.smooth import SceneCuts, check_smoothing, make_face_smoother, make_smoother
from vidswap.pipeline.translate import EDGE_MARGIN, ImageTranslator, to_images, to_tensor
from vidswap.runtime import check_choice, holds_statistics
from vidswap.settings import HOLD_NORM, TranslatorSettings, VideoSettings
from vidswap.video import Frame, Source, default_output_path, use_source


class Translator:
    """A loaded model, ready to translate frames or whole videos (load once, reuse)."""

    def __init__(self, settings: TranslatorSettings | None = None, **overrides):
        self.settings = s = settings or TranslatorSettings(**overrides)
        if s.mode not in choices(ApplyMode):
            raise ConfigError(f"mode must be one of {choices(ApplyMode)}, got {s.mode!r}")
        check_smoothing(s.smooth, s.smooth_strength)
        self.device = pick_device(s.device)
        check_choice(s.backend, self.device, s.fp16)  # before loading, and before a face pass
        self.model = load_model(s.model, s.models_dir, device=self.device)
        trained_margin = self._trained("data").get("margin")
        if trained_margin is not None:  # faces aligned as the training crops were
            self.settings = s = replace(s, face=replace(s.face, margin=float(trained_margin)))
        self.mode = self.model.card.mode if s.mode == "auto" else s.mode
        # the shorter side whole frames are translated at (None: their own); face crops are at the model's size
        self.work_size = (
            None if self.mode == "face" or s.work_size == "full" else s.work_size or self.model.card.work_size
        )
        hold, backend = held_norm(
            s.hold_norm, s.backend, self.device, self.mode == "frame" and holds(self.model.generator)
        )
        margin = 0 if self.mode == "face" else EDGE_MARGIN
        self._translate = ImageTranslator(
            self.model, self.device, backend, s.fp16, s.batch, s.tile, self.work_size, hold, margin
        )
        self._detector: FaceDetector | None = None  # face mode on images: made by the first one

    def __call__(self, images):
        """Translate RGB uint8 frames: one H x W x 3 array, a list of them, an N x H x W x 3
        array, or an N x 3 x H x W float torch tensor in [-1, 1]."""
        if isinstance(images, torch.Tensor):
            return to_tensor(self._translate(to_images(images)), str(images.device))
        if isinstance(images, np.ndarray) and images.ndim == 3:
            return self._translate([images])[0]
        return self._translate(list(images))

    def apply(
        self,
        source: Source | str | os.PathLike,
        output: str | os.PathLike | None = None,
        video: VideoSettings | None = None,
        *,
        overwrite: bool = False,
        on_frame: Callable[[int], None] | None = None,
        on_start: Callable[[int | None], None] | None = None,
        on_plan_frame: Callable[[int], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> ApplyResult:
        """Translate a video file (a path, or a Source the caller opened and closes) or an
        image file (a path: JPEG, PNG, WebP; `video`'s time window does not apply); returns
        what was written. In face mode a first pass over the clip finds the faces
        (`on_plan_frame` reports its progress); its warnings go to `on_warning` before the
        frames are translated (and into the result's warnings)."""
        video = video or VideoSettings()
        if not isinstance(source, Source) and is_image(source):
            out_path = check_image_job(source, output, overwrite)
            return apply_image(source, out_path, self._translate_still, preview=video.preview, on_start=on_start,
                               on_frame=on_frame)  # fmt: skip
        with use_source(source) as source:
            out_path = check_job(source, output, video, overwrite)
            began = time.perf_counter()
            process, notes = self._frame_process(source, video, on_plan_frame)
            for note in notes if on_warning else []:
                on_warning(note)
            result = apply_video(
                source,
                out_path,
                process,
                encode=video.encode,
                start=video.start,
                end=video.end,
                batch_size=self.settings.batch,
                smooth=make_smoother(self._smoothing, self.settings.smooth_strength, self.mode),
                preview=video.preview,
                on_frame=on_frame,
                on_start=on_start,
            )
        # the whole job's time: face mode's first pass is most of it
        result.seconds = time.perf_counter() - began
        result.warnings.extend(notes)
        return result

    @property
    def _smoothing(self) -> Smoothing:
        # auto steadies translations; the identity model gives back its input: nothing to steady
        return "none" if self.settings.smooth == "auto" and self._translate.identity else self.settings.smooth

    def _frame_process(self, source: Source, video: VideoSettings, on_plan_frame):
        """What the streaming pass does to each batch of frames in this mode, and the
        warnings of the face pass."""
        if self.mode == "frame":
            if not self._translate.holding:
                return (lambda frames: self._translate([f.image for f in frames])), []
            scenes = SceneCuts()  # the held statistics start again at each scene
            return (lambda frames: self._translate([f.image for f in frames], [scenes(f.image) for f in frames])), []
        translate, crop, size = self._face_translate()
        face = self.settings.face
        plan = plan_faces(source, crop, face, device=self.device,
                          start=video.start, end=video.end, on_frame=on_plan_frame)  # fmt: skip
        smooth = make_face_smoother(self._smoothing, self.settings.smooth_strength, self.mode)
        notes = plan.warnings + [n for n in [enlargement_note(plan, size, face, source.path.name)] if n]
        return face_processor(translate, plan, face, smooth, size, self._face_only), notes

    def _trained(self, section: str) -> dict:
        """A section of the config the model was trained with (empty for an imported model)."""
        return (self.model.card.extra.get("config") or {}).get(section) or {}

    @property
    def _face_only(self) -> bool:
        """Trained to neglect the crops' background (train.face_mask): paste only the face."""
        return self._trained("train").get("face_mask", 0) > 0

    def _face_translate(self):
        """Face mode's translation of aligned crops, the crops' side and the model's."""
        size = self.model.card.size or 256
        crop = aligned_size(size)
        return (self._translate if crop == size else at_model_size(self._translate, size)), crop, size

    def _translate_still(self, image: np.ndarray, name: str) -> tuple[np.ndarray, list[str]]:
        if self.mode == "frame":
            return self._translate([image])[0], []
        face = self.settings.face
        if self._detector is None:
            self._detector = FaceDetector(device=self.device, min_prob=face.min_prob, min_size=face.min_size)
        translate, crop, size = self._face_translate()
        plan = plan_still_faces(image, self._detector, crop, face, name)
        notes = plan.warnings + [n for n in [enlargement_note(plan, size, face, name)] if n]
        process = face_processor(translate, plan, face, model_size=size, face_only=self._face_only)
        return process([Frame(0, None, 0.0, image)])[0], notes


def held_norm(choice: HoldNorm, backend: str, device, applies: bool) -> tuple[float, str]:
    """The held instance-norm statistics' weight (0: off) and the backend to run, for
    `--hold-norm` (`applies`: frame mode and a generator with per-image instance norm).
    Torch and ONNX Runtime can hold them (TensorRT and torch.compile cannot): auto holds
    where the backend can, on asks for the torch backend when auto would pick one that cannot."""
    if choice not in choices(HoldNorm):
        raise ConfigError(f"unknown hold_norm {choice!r} (known: {', '.join(choices(HoldNorm))})")
    if not applies or choice == "off":
        return 0.0, backend
    if holds_statistics(backend, torch.device(device)):
        return HOLD_NORM, backend
    if choice == "on" and backend != "auto":
        raise ConfigError(
            f"--hold-norm on needs the torch or onnx backend, not {backend} (it cannot hold the statistics)"
        )
    return (HOLD_NORM, "torch") if choice == "on" else (0.0, backend)


def check_job(source: Source, output: str | os.PathLike | None, video: VideoSettings,
              overwrite: bool = False) -> Path:  # fmt: skip
    """Validate one conversion before any work (the source being readable was checked when
    it was opened): a sane time window, an output that neither is the input nor (without
    overwrite) exists. Returns the output path."""
    if video.start is not None and video.end is not None and video.end <= video.start:
        raise ConfigError(f"end ({video.end}) must be after start ({video.start})")
    out_path = Path(output) if output else default_output_path(source.path, info=source.info)
    return check_output(source.path, out_path, overwrite)


def check_image_job(source: str | os.PathLike, output: str | os.PathLike | None, overwrite: bool = False) -> Path:
    """check_job for an image file (its header read; the pixels when it is converted):
    returns the output path."""
    check_image(source)
    return check_output(Path(source), image_output_path(source, output), overwrite)


def check_output(source: Path, out_path: Path, overwrite: bool) -> Path:
    """An output that neither is the input nor (without overwrite) exists."""
    if out_path.resolve() == source.resolve():
        raise ConfigError("the output would overwrite the input; choose another output path")
    if out_path.exists() and not overwrite:
        raise ConfigError(f"{out_path} exists (use -y / overwrite=True to replace it)")
    return out_path
