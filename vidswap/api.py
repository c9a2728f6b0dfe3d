"""The Python API: everything the CLI does, as functions for scripts.

    import vidswap
    translator = vidswap.load("van_gogh")            # a name in the store, a folder, or "identity"
    out_images = translator(list_of_rgb_uint8_frames)
    translator.apply("in.mp4", "out.mp4")            # timing, rotation and audio kept
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidswap.errors import ConfigError
from vidswap.pipeline.apply import ApplyResult, EncodeOptions, apply_video
from vidswap.pipeline.faces import FaceSettings

if TYPE_CHECKING:
    from vidswap.video.probe import MediaInfo

MODES = ("auto", "face", "frame")
SMOOTHING = ("none", "flow")


@dataclass
class TranslatorSettings:
    """How a model is run; the same settings drive `vidswap apply` and `vidswap batch`."""

    model: str = "identity"
    models_dir: str | None = None
    device: str = "auto"
    backend: str = "auto"  # auto | torch | compile | onnx | tensorrt
    fp16: bool = False
    batch: int = 1
    mode: str = "auto"  # auto (the model's) | face | frame
    tile: int = 0  # full-frame mode: translate in tiles of this side when the frame is larger (0: whole)
    smooth: str = "none"  # none | flow
    smooth_strength: float = 0.6
    face: FaceSettings = field(default_factory=FaceSettings)


@dataclass
class VideoSettings:
    """What is done to one video besides translating it."""

    encode: EncodeOptions = field(default_factory=EncodeOptions)
    start: float | None = None
    end: float | None = None
    preview: str | None = None  # also write a side-by-side (input | output) video here


class Translator:
    """A loaded model, ready to translate frames or whole videos (load once, reuse)."""

    def __init__(self, settings: TranslatorSettings | None = None, **overrides):
        from vidswap.device import pick_device
        from vidswap.models import load_model
        from vidswap.pipeline.translate import ImageTranslator
        from vidswap.runtime import check_choice

        self.settings = s = settings or TranslatorSettings(**overrides)
        if s.mode not in MODES or s.smooth not in SMOOTHING:
            raise ConfigError(f"mode must be one of {MODES} and smooth one of {SMOOTHING}")
        self.device = pick_device(s.device)
        check_choice(s.backend, self.device, s.fp16)  # before loading, and before a face pass
        self.model = load_model(s.model, s.models_dir, device=self.device)
        self.mode = self.model.card.mode if s.mode == "auto" else s.mode
        self._translate = ImageTranslator(self.model, self.device, s.backend, s.fp16, s.batch, s.tile)

    def __call__(self, images):
        """Translate RGB uint8 frames: one H x W x 3 array, a list of them, an N x H x W x 3
        array, or an N x 3 x H x W float torch tensor in [-1, 1]."""
        if _is_tensor(images):
            from vidswap.pipeline.translate import to_images, to_tensor

            return to_tensor(self._translate(to_images(images)), str(images.device))
        if isinstance(images, np.ndarray) and images.ndim == 3:
            return self._translate([images])[0]
        return self._translate(list(images))

    def apply(
        self,
        source: str | os.PathLike,
        output: str | os.PathLike | None = None,
        video: VideoSettings | None = None,
        *,
        overwrite: bool = False,
        on_frame: Callable[[int], None] | None = None,
        on_start: Callable[[int | None], None] | None = None,
        on_plan_frame: Callable[[int], None] | None = None,
    ) -> ApplyResult:
        """Translate a video file; returns what was written. In face mode a first pass
        over the clip finds the faces (`on_plan_frame` reports its progress)."""
        from vidswap.pipeline.smooth import make_smoother

        video = video or VideoSettings()
        out_path, _ = check_job(source, output, video, overwrite)
        process, notes = self._frame_process(source, video, on_plan_frame)
        result = apply_video(
            source,
            out_path,
            process,
            encode=video.encode,
            start=video.start,
            end=video.end,
            batch_size=self.settings.batch,
            smooth=make_smoother(self.settings.smooth, self.settings.smooth_strength),
            preview=video.preview,
            on_frame=on_frame,
            on_start=on_start,
        )
        result.warnings.extend(notes)
        return result

    def _frame_process(self, source, video: VideoSettings, on_plan_frame):
        """What the streaming pass does to each batch of frames in this mode, and the
        warnings of the face pass."""
        if self.mode == "frame":
            return (lambda frames: self._translate([f.image for f in frames])), []
        from vidswap.faces.align import aligned_size
        from vidswap.pipeline.faces import at_model_size, face_processor, plan_faces

        size = self.model.card.size or 256
        crop = aligned_size(size)
        plan = plan_faces(source, crop, self.settings.face, device=self.device,
                          start=video.start, end=video.end, on_frame=on_plan_frame)  # fmt: skip
        translate = self._translate if crop == size else at_model_size(self._translate, size)
        return face_processor(translate, plan, self.settings.face), plan.warnings


def check_job(source: str | os.PathLike, output: str | os.PathLike | None, video: VideoSettings,
              overwrite: bool = False) -> tuple[Path, MediaInfo]:  # fmt: skip
    """Validate one conversion before any work: a readable input, a sane time window, an
    output that neither is the input nor (without overwrite) exists. Returns the output
    path and the input's header (frame rates not sampled: see probe)."""
    from vidswap.video import default_output_path, probe

    if video.start is not None and video.end is not None and video.end <= video.start:
        raise ConfigError(f"end ({video.end}) must be after start ({video.start})")
    info = probe(source, rates=False)
    out_path = Path(output) if output else default_output_path(source)
    if out_path.resolve() == Path(source).resolve():
        raise ConfigError("the output would overwrite the input; choose another output path")
    if out_path.exists() and not overwrite:
        raise ConfigError(f"{out_path} exists (use -y / overwrite=True to replace it)")
    return out_path, info


def load(model: str = "identity", **settings) -> Translator:
    """Load a model by name or folder path (see TranslatorSettings for the options)."""
    return Translator(TranslatorSettings(model=model, **settings))


def apply(source: str | os.PathLike, output: str | os.PathLike | None = None, *, model: str = "identity",
          overwrite: bool = False, **settings) -> ApplyResult:  # fmt: skip
    """Translate one video file with a model; keyword settings are those of
    TranslatorSettings and VideoSettings."""
    video_keys = set(VideoSettings.__dataclass_fields__)
    if isinstance(settings.get("face"), dict):
        settings["face"] = FaceSettings(**settings["face"])
    video = VideoSettings(**{k: v for k, v in settings.items() if k in video_keys})
    translator = load(model, **{k: v for k, v in settings.items() if k not in video_keys})
    return translator.apply(source, output, video, overwrite=overwrite)


def _is_tensor(value) -> bool:
    return type(value).__module__.startswith("torch")


def batch(library: str | os.PathLike, output: str | os.PathLike, *, model: str = "identity",
          translator: TranslatorSettings | None = None, video: VideoSettings | None = None,
          glob: Iterable[str] = (), exclude: Iterable[str] = (), workers: int | None = None,
          ray: bool | str = False, retries: int = 1, observer=None):  # fmt: skip
    """Convert every video under `library` into the same tree under `output`, resumably
    (see `vidswap batch`); returns a vidswap.pipeline.batch.BatchReport. `translator`
    (default: `model` with default settings) and `video` are the settings of `apply`;
    `workers` local processes, or Ray tasks with `ray=True` (local cluster) or an address."""
    from vidswap.pipeline.batch import run_batch

    return run_batch(library, output, translator or TranslatorSettings(model=model), video or VideoSettings(),
                     globs=glob, excludes=exclude, workers=workers, ray=ray, retries=retries,
                     observer=observer)  # fmt: skip
