"""The settings of a conversion, as plain dataclasses: what `vidswap apply` and `vidswap
batch` take, what the Python API takes, what a batch manifest records. Kept free of heavy
imports so the CLI declares its options (and their defaults) from them without loading
torch or PyAV; the pipeline that acts on them is vidswap.pipeline."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from vidswap.choices import ApplyMode, BackendName, FaceDetail, FaceSelection, HoldNorm, Smoothing
from vidswap.errors import ConfigError

FACE_MARGIN = 0.35  # room around the face template, as a share of the tight face crop
# the held instance-norm statistics' history weight: about 100 frames of memory. 1 (the scene's first
# frame's) gained more on 24-frame clips but would freeze a long take's statistics (docs/temporal.md)
HOLD_NORM = 0.99
# the history's weight where the input is steady (temporal smoothing), measured: docs/temporal.md
SMOOTH_STRENGTH = 0.95

MIN_WORK_SIZE = 32  # the smallest shorter side a frame is translated at

WorkSize = int | Literal["full"] | None  # None: the model card's default


def parse_work_size(value: int | str) -> int | Literal["full"]:
    """`--work-size`: 'full' (each frame at its own size) or a shorter side in pixels."""
    if value == "full":
        return "full"
    text = str(value).strip()
    if not text.isdigit() or int(text) < MIN_WORK_SIZE:
        raise ValueError(f"{value!r} is not a work size: write 'full' or a side in pixels (at least {MIN_WORK_SIZE})")
    return int(text)


_TIME_FORMS = "seconds (90.5) or [HH:]MM:SS[.ms] (01:30.5, 1:01:30)"


def parse_time(text: str) -> float:
    """Seconds from '90.5', '01:30.5' or '1:01:30' (as ffmpeg's -ss takes them)."""
    *head, last = text.strip().split(":")
    if len(head) > 2 or not all(p.isdigit() for p in head) or not re.fullmatch(r"\d+(\.\d*)?|\.\d+", last):
        raise ValueError(f"{text!r} is not a time: write {_TIME_FORMS}")
    seconds = float(last)
    if (head and seconds >= 60) or (len(head) == 2 and int(head[1]) >= 60):
        raise ValueError(f"{text!r}: minutes and seconds after a colon must be under 60")
    minutes = 0
    for part in head:
        minutes = minutes * 60 + int(part)
    return minutes * 60 + seconds


@dataclass
class EncodeOptions:
    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str | None = None
    audio: bool = True  # copy the source's audio (False: video only, like ffmpeg's -an)


@dataclass
class FaceSettings:
    select: FaceSelection | str = "largest"  # or a track number
    min_prob: float = 0.9  # detector confidence
    min_size: int = 20  # smallest face side in pixels
    detect_every: int = 8  # frames between scheduled detections; faces are followed in between
    full_detect: bool = False  # detect at full resolution in every frame (the slow reference path)
    max_gap: int = 8  # missed detections filled by interpolation
    min_cutoff: float = 1.0  # One-Euro smoothing: lower is steadier
    beta: float = 3.0  # One-Euro smoothing: higher follows fast motion sooner
    hold: float = 0.04  # a still face's alignment held while it moves less than this share of its size
    margin: float = FACE_MARGIN  # room around the face template; a trained model's own (its crops') replaces it
    erode: float = 0.05  # mask: untouched band at the crop's edge (share of its side)
    blur: float = 0.1  # mask: width of the feathered ramp
    color_match: bool = True  # match the translated face's Lab mean/std to the frame
    detail: FaceDetail = "none"  # restore: add back the frame's detail finer than the model's crop
    keep_faceless: bool = False  # a clip with no face at all is copied through instead of failing


@dataclass
class TranslatorSettings:
    """How a model is run; the same settings drive `vidswap apply` and `vidswap batch`."""

    model: str = "identity"
    models_dir: str | None = None
    device: str = "auto"
    backend: BackendName = "auto"
    fp16: bool = False
    batch: int = 1
    mode: ApplyMode = "auto"
    tile: int = 0  # full-frame mode: translate in tiles of this side when the frame is larger (0: whole)
    # frame mode: translate with the frame's shorter side at this many pixels and bring the result
    # back to the frame's size ("full": at the frame's own size; None: the model card's work_size)
    work_size: WorkSize = None
    smooth: Smoothing = "auto"  # frame mode: the whole frame; face mode: the pasted faces
    smooth_strength: float = SMOOTH_STRENGTH
    hold_norm: HoldNorm = "auto"  # frame mode: instance-norm statistics held along the clip (torch, ONNX Runtime)
    face: FaceSettings = field(default_factory=FaceSettings)

    def __post_init__(self) -> None:
        if self.work_size is not None:
            try:
                self.work_size = parse_work_size(self.work_size)
            except ValueError as exc:
                raise ConfigError(f"work_size: {exc}") from None


@dataclass
class VideoSettings:
    """What is done to one video besides translating it."""

    encode: EncodeOptions = field(default_factory=EncodeOptions)
    start: float | None = None  # seconds; also given as text: '90.5', '01:30.5', '1:01:30'
    end: float | None = None
    preview: str | None = None  # also write a side-by-side (input | output) video here

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            if isinstance(value := getattr(self, name), str):
                try:
                    setattr(self, name, parse_time(value))
                except ValueError as exc:
                    raise ConfigError(f"{name}: {exc}") from None
