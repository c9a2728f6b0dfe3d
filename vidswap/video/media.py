"""What the video package hands around: decoded frames, the facts of a media file, and a
Source (a file and its facts, opened once). Every other module of vidswap.video imports
these; this module imports none of them."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import numpy as np

# what counts as a video file (compared case-insensitively): every container PyAV's FFmpeg
# opens that cameras, phones and editors commonly write
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg",
                              ".ts", ".mts", ".m2ts", ".3gp", ".ogv", ".ogg"})  # fmt: skip


@dataclass
class Frame:
    index: int  # position in decode output order (presentation order), counted from the read's start
    pts: int | None  # source timestamp in the stream's time base
    time: float  # seconds
    image: np.ndarray  # H x W x 3 uint8 RGB, upright


@dataclass
class VideoStreamInfo:
    index: int
    codec: str
    width: int  # upright: as displayed, after rotation
    height: int
    coded_width: int  # as stored
    coded_height: int
    pix_fmt: str
    rotation: int  # degrees counter-clockwise the stored picture is turned for display
    time_base: str
    average_rate: float | None
    real_rate: float | None  # from the median step between frame timestamps
    variable_rate: bool
    frame_count: int | None  # from the header, or by decoding with count=True
    frame_count_exact: bool
    duration: float | None


@dataclass
class AudioStreamInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str
    duration: float | None


@dataclass
class MediaInfo:
    path: str
    container: str
    duration: float | None
    size_bytes: int
    video: list[VideoStreamInfo] = field(default_factory=list)
    audio: list[AudioStreamInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def main_video(self) -> VideoStreamInfo:
        return self.video[0]


@dataclass
class Opened:
    """A container the probe left open for the first reader: the video packets it already
    demuxed (to be decoded again, the decoder having been flushed) come first."""

    container: av.container.InputContainer
    packets: list[av.Packet]


class Source:
    """One input file and its facts, probed once (vidswap.video.open_source) and handed to
    every stage of a job: the checks, the face pass, the reader, the writer's audio copy.
    The container the facts were read from is lent to the first reader; a container a
    reader has finished with is lent on to the audio copy. `close` closes what is unclaimed."""

    def __init__(self, path: str | os.PathLike, info: MediaInfo, opened: Opened | None = None):
        self.path = Path(path)
        self.info = info
        self._fresh = opened
        self._spent: av.container.InputContainer | None = None

    def take_fresh(self) -> Opened | None:
        """The probe's container, positioned after its packets, once; else None."""
        opened, self._fresh = self._fresh, None
        return opened

    def take_any(self) -> av.container.InputContainer | None:
        """Any lent container (position unknown: the caller seeks), once; else None."""
        if self._spent is not None:
            container, self._spent = self._spent, None
            return container
        opened = self.take_fresh()
        return opened.container if opened else None

    def take_rewound(self, kind: str) -> av.container.InputContainer | None:
        """Any lent container, seeked back to the start of its first `kind` ("video", "audio")
        stream, once; else None (none lent, or it cannot seek back)."""
        container = self.take_any()
        if container is None:
            return None
        for stream in getattr(container.streams, kind)[:1]:
            try:
                # by that stream, to well before its start: a plain seek(0) follows the video
                # and lands on its first frame, passing over audio that comes before it
                container.seek((stream.start_time or 0) - round(60 / stream.time_base), stream=stream)
            except av.FFmpegError:
                container.close()
                return None
        return container

    def give_back(self, container: av.container.InputContainer) -> None:
        if self._spent is None:
            self._spent = container
        else:
            container.close()

    def close(self) -> None:
        for container in (self._spent, self._fresh and self._fresh.container):
            if container is not None:
                container.close()
        self._fresh = self._spent = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
