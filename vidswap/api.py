"""The Python API: everything the CLI does, as functions for scripts.

    import vidswap
    translator = vidswap.load("van_gogh")            # a name in the store, a folder, or "identity"
    out_images = translator(list_of_rgb_uint8_frames)
    translator.apply("in.mp4", "out.mp4")            # timing, rotation and audio kept
    translator.apply("photo.jpg")                    # -> photo.vidswap.jpg (EXIF orientation, ICC kept)
    vidswap.batch("photos/", "out/", model="van_gogh")   # a folder tree of videos and images, resumably

The pieces live in the pipeline layer (vidswap.pipeline.translator, .batch) and in
vidswap.settings; this module is their public face.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from vidswap.pipeline.apply import ApplyResult
from vidswap.pipeline.batch import BatchReport, Decision, Observer, dry_run, run_batch
from vidswap.pipeline.images import IMAGE_EXTENSIONS
from vidswap.pipeline.translator import Translator, check_image_job, check_job
from vidswap.settings import EncodeOptions, FaceSettings, TranslatorSettings, VideoSettings

__all__ = ["IMAGE_EXTENSIONS", "ApplyResult", "BatchReport", "Decision", "EncodeOptions", "FaceSettings",
           "Observer", "Translator", "TranslatorSettings", "VideoSettings", "apply", "batch", "batch_plan",
           "check_image_job", "check_job", "load"]  # fmt: skip


def load(model: str = "identity", **settings) -> Translator:
    """Load a model by name or folder path (see TranslatorSettings for the options)."""
    return Translator(TranslatorSettings(model=model, **settings))


def apply(source: str | os.PathLike, output: str | os.PathLike | None = None, *, model: str = "identity",
          overwrite: bool = False, **settings) -> ApplyResult:  # fmt: skip
    """Translate one video or image file with a model; keyword settings are those of
    TranslatorSettings and VideoSettings."""
    video_keys = set(VideoSettings.__dataclass_fields__)
    if isinstance(settings.get("face"), dict):
        settings["face"] = FaceSettings(**settings["face"])
    video = VideoSettings(**{k: v for k, v in settings.items() if k in video_keys})
    translator = load(model, **{k: v for k, v in settings.items() if k not in video_keys})
    return translator.apply(source, output, video, overwrite=overwrite)


def batch(library: str | os.PathLike, output: str | os.PathLike, *, model: str = "identity",
          translator: TranslatorSettings | None = None, video: VideoSettings | None = None,
          glob: Iterable[str] = (), exclude: Iterable[str] = (), workers: int | None = None,
          ray: bool | str = False, retries: int = 1, observer: Observer | None = None) -> BatchReport:  # fmt: skip
    """Convert every video and image under `library` into the same tree under `output`, resumably
    (see `vidswap batch`). `translator` (default: `model` with default settings) and
    `video` are the settings of `apply`; `workers` local processes, or Ray tasks with
    `ray=True` (local cluster) or an address."""
    return run_batch(library, output, translator or TranslatorSettings(model=model), video or VideoSettings(),
                     globs=glob, excludes=exclude, workers=workers, ray=ray, retries=retries,
                     observer=observer)  # fmt: skip


def batch_plan(library: str | os.PathLike, output: str | os.PathLike, *, model: str = "identity",
               translator: TranslatorSettings | None = None, video: VideoSettings | None = None,
               glob: Iterable[str] = (), exclude: Iterable[str] = (), retries: int = 1) -> list[Decision]:  # fmt: skip
    """What `batch` with these arguments would convert, retry or skip, and why; changes nothing."""
    return dry_run(library, output, translator or TranslatorSettings(model=model), video or VideoSettings(),
                   globs=glob, excludes=exclude, retries=retries)  # fmt: skip
