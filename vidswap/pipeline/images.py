"""Still images through a model: read upright (EXIF orientation applied), translate in the
video's frame or face mode (the faces of one image: no tracking, no smoothing), write in the
input's format with its ICC profile, EXIF and alpha kept, atomically.

Alpha: the model sees the RGB colour only; the source's alpha channel is copied unchanged
into outputs that can hold one (PNG, WebP) and dropped, with a warning, from JPEG."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from vidswap.errors import ConfigError, InputError, NoFaceError, OutputError
from vidswap.faces import FaceDetector, align_face, select_tracks, track_faces
from vidswap.fsutil import atomic_path
from vidswap.pipeline.apply import ApplyResult
from vidswap.pipeline.faces import FacePlan
from vidswap.settings import FaceSettings

# Pillow's format name for each image kind `vidswap apply` and `vidswap batch` take
IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}
IMAGE_EXTENSIONS = frozenset(IMAGE_FORMATS)
QUALITY = 95  # JPEG and WebP: visually lossless, a third of PNG's size
# modes whose ICC profile describes RGB, so it still fits the RGB output (a CMYK or grey one would not)
_RGB_MODES = {"RGB", "RGBA", "RGBX", "P", "PA"}

# (image, its name for messages) -> the translated image and warnings
StillProcess = Callable[[np.ndarray, str], tuple[np.ndarray, list[str]]]


def is_image(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


@dataclass
class Still:
    """A decoded image and what its output keeps of it."""

    image: np.ndarray  # H x W x 3 uint8 RGB, upright
    alpha: np.ndarray | None = None  # H x W uint8
    icc_profile: bytes | None = None
    exif: bytes | None = None  # without the orientation tag: the pixels are upright now
    warnings: list[str] = field(default_factory=list)


# what Pillow raises for a file that is no image, a damaged one or one too large to decode
_UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def check_image(path: str | os.PathLike) -> None:
    """Before any work: the file is there and Pillow reads its header (quick), else one line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with Image.open(path):
            pass
    except _UNREADABLE as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: BaseException) -> InputError:
    return InputError(f"{path}: not a readable image ({' '.join(str(exc).split())})")


def read_image(path: str | os.PathLike) -> Still:
    path = Path(path)
    check_image(path)
    try:
        with Image.open(path) as im:
            im.load()
            upright = ImageOps.exif_transpose(im)
    except _UNREADABLE as exc:
        raise _unreadable(path, exc) from None
    still = Still(image=np.asarray(upright.convert("RGB")))
    if getattr(im, "n_frames", 1) > 1:
        still.warnings.append(f"{path}: an animated image: only its first frame is translated")
    if "A" in upright.getbands() or "transparency" in upright.info:
        still.alpha = np.asarray(upright.convert("RGBA").getchannel("A"))
    icc = upright.info.get("icc_profile")
    if icc and upright.mode in _RGB_MODES:
        still.icc_profile = icc
    elif icc:
        still.warnings.append(f"{path}: its {upright.mode} colour profile does not fit the RGB output: not kept")
    exif = upright.getexif()
    exif.pop(ExifTags.Base.Orientation, None)
    still.exif = exif.tobytes() if len(exif) else None
    return still


def write_image(path: str | os.PathLike, image: np.ndarray, like: Still) -> list[str]:
    """Write `image` with `like`'s alpha, colour profile and EXIF, in the format its suffix
    names, atomically; returns warnings (what the format could not keep)."""
    path = Path(path)
    fmt = IMAGE_FORMATS[path.suffix.lower()]
    out = Image.fromarray(image)
    warnings = []
    if like.alpha is not None:
        if fmt == "JPEG":
            warnings.append(f"{path}: JPEG has no alpha channel: the transparency was dropped")
        else:
            out.putalpha(Image.fromarray(like.alpha))
    options = {k: v for k, v in (("icc_profile", like.icc_profile), ("exif", like.exif)) if v}
    if fmt != "PNG":
        options["quality"] = QUALITY
    try:
        with atomic_path(path) as tmp:
            out.save(tmp, format=fmt, **options)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc})") from None
    return warnings


def image_output_path(source: str | os.PathLike, output: str | os.PathLike | None) -> Path:
    """-o as given (an image suffix), else SOURCE.vidswap.EXT beside the source."""
    source = Path(source)
    out = Path(output) if output else source.with_name(f"{source.stem}.vidswap{source.suffix}")
    if not is_image(out):
        raise ConfigError(f"{out}: an image's output must end in {', '.join(sorted(IMAGE_EXTENSIONS))}")
    return out


def plan_still_faces(image: np.ndarray, detector: FaceDetector, crop_size: int, settings: FaceSettings,
                     name: str) -> FacePlan:  # fmt: skip
    """The faces of one image (as frame 0), chosen by `settings.select` like a video's tracks:
    numbered left to right."""
    tracks = track_faces([detector.detect_one(image)], [0.0], max_gap=0, min_length=1)
    chosen = select_tracks(tracks, settings.select)
    warnings = []
    if not chosen:
        if not settings.keep_faceless:
            raise NoFaceError(f"{name}: no face found (try --mode frame, a lower --min-face-prob, or --keep-faceless)")
        warnings.append(f"{name}: no face found; copied through unchanged (--keep-faceless)")
    frame_size = image.shape[1::-1]
    faces = [(n, align_face(t.landmarks[0], frame_size, crop_size, settings.margin)) for n, t in enumerate(chosen)]
    return FacePlan(faces={0: faces} if faces else {}, frames=1, tracks=len(chosen), warnings=warnings)


def apply_image(
    source: str | os.PathLike,
    output: str | os.PathLike,
    process: StillProcess,
    *,
    preview: str | os.PathLike | None = None,
    on_start: Callable[[int | None], None] | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> ApplyResult:
    """Translate one image file into `output` (checked by the caller); `preview`, if given,
    also gets input | output side by side."""
    began = time.perf_counter()
    still = read_image(source)
    if on_start:
        on_start(1)
    image, warnings = process(still.image, str(source))
    warnings = still.warnings + warnings + write_image(output, image, still)
    if preview:
        side_by_side = Still(np.hstack([still.image, image]), alpha=None if still.alpha is None else
                             np.hstack([still.alpha, still.alpha]), icc_profile=still.icc_profile)  # fmt: skip
        write_image(preview, side_by_side.image, side_by_side)
    if on_frame:
        on_frame(0)
    return ApplyResult(output=Path(output), frames=1, seconds=time.perf_counter() - began, audio_streams=0,
                       warnings=warnings)  # fmt: skip
