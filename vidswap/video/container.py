"""Opening media files with PyAV, turning every way a file can be unusable into one
clear InputError."""

from __future__ import annotations

import os
from pathlib import Path

import av

from vidswap.errors import InputError


def open_options(pyav_version: str) -> dict[str, str]:
    """av.open's keyword arguments for reading: PyAV before 19 needs `metadata_errors` to open
    files with badly encoded tags; PyAV 19 removed the argument (it no longer fails on them)."""
    return {"metadata_errors": "ignore"} if int(pyav_version.split(".")[0]) < 19 else {}


_OPEN_OPTIONS = open_options(av.__version__)


def open_input(path: str | os.PathLike) -> av.container.InputContainer:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a video file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    try:
        return av.open(str(path), **_OPEN_OPTIONS)
    except av.FFmpegError as exc:
        raise InputError(f"{path}: not a readable media file ({_reason(exc)})") from None


def first_video_stream(container: av.container.InputContainer, path: str | os.PathLike) -> av.VideoStream:
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: no video stream")
    return container.streams.video[0]


def frame_rotation(frame: av.VideoFrame) -> int:
    """Display rotation in degrees counter-clockwise, folded to 0, 90, 180 or 270."""
    return int(round((frame.rotation or 0) / 90.0)) * 90 % 360


def _reason(exc: av.FFmpegError) -> str:
    return getattr(exc, "strerror", None) or str(exc).split(":")[0]
