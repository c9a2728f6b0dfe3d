"""Decoding: frames as upright RGB uint8 arrays with their exact source timestamps."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidswap.errors import InputError
from vidswap.video.container import first_video_stream, frame_rotation, open_input
from vidswap.video.probe import MediaInfo, probe


@dataclass
class Frame:
    index: int  # position in decode output order (presentation order), counted from the read's start
    pts: int | None  # source timestamp in the stream's time base
    time: float  # seconds
    image: np.ndarray  # H x W x 3 uint8 RGB, upright


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a stored picture the way its display matrix says (degrees counter-clockwise)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


class VideoReader:
    """Iterates a file's first video stream. Decodes with FFmpeg's threads; a damaged
    packet is skipped and counted in `warnings` instead of ending the read."""

    def __init__(self, path: str | os.PathLike, start: float | None = None, end: float | None = None):
        self.path = Path(path)
        self.info: MediaInfo = probe(self.path, rates=False)
        self.start, self.end = start, end
        self.warnings: list[str] = []
        self.damaged_packets = 0
        self._container = open_input(self.path)
        self.stream = first_video_stream(self._container, self.path)
        self.stream.thread_type = "AUTO"
        self.time_base: Fraction = self.stream.time_base or Fraction(1, 90000)

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[Frame]:
        if self.start:
            self._container.seek(int(self.start / self.time_base), stream=self.stream, backward=True)
        index = 0
        last_pts: int | None = None
        for frame in self._decoded_frames():
            pts = frame.pts
            if pts is None or (last_pts is not None and pts <= last_pts):
                # no or repeated timestamp (some AVI/MPEG-PS files): keep order strictly increasing
                pts = 0 if last_pts is None else last_pts + 1
            last_pts = pts
            time = float(pts * self.time_base)
            if self.start is not None and time < self.start:
                continue
            if self.end is not None and time >= self.end:
                break
            image = upright(frame.to_ndarray(format="rgb24"), frame_rotation(frame))
            yield Frame(index=index, pts=pts, time=time, image=image)
            index += 1
        if self.damaged_packets:
            self.warnings.append(f"{self.path.name}: skipped {self.damaged_packets} damaged packet(s)")

    def _decoded_frames(self) -> Iterator[av.VideoFrame]:
        demux = self._container.demux(self.stream)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                return
            except av.FFmpegError as exc:
                # the demuxer itself gave up: keep what was read, say where it stopped
                self.warnings.append(f"{self.path.name}: stopped at damaged data ({exc.strerror or exc})")
                yield from self._flush()
                return
            try:
                yield from packet.decode()
            except av.FFmpegError:
                self.damaged_packets += 1

    def _flush(self) -> Iterator[av.VideoFrame]:
        try:
            yield from self.stream.codec_context.decode(None)
        except av.FFmpegError:
            self.damaged_packets += 1


def open_video(path: str | os.PathLike, start: float | None = None, end: float | None = None) -> VideoReader:
    """Open a video for sequential reading (optionally only [start, end) seconds)."""
    return VideoReader(path, start=start, end=end)


def read_frames(path: str | os.PathLike, indices: list[int]) -> list[Frame]:
    """Frames at the given indices (presentation order). Uses decord's random access
    when it is installed, else one sequential PyAV pass; both give the same frames."""
    wanted = sorted(set(indices))
    if not wanted:
        return []
    try:
        from vidswap.video.decord_reader import read_frames_decord
    except ImportError:
        pass
    else:
        frames = read_frames_decord(path, wanted)
        if frames is not None:
            return frames
    found: list[Frame] = []
    with open_video(path) as reader:
        targets = iter(wanted)
        target = next(targets)
        for frame in reader:
            if frame.index == target:
                found.append(frame)
                target = next(targets, None)
                if target is None:
                    break
    if len(found) < len(wanted) and not found:
        raise InputError(f"{path}: no frame at indices {wanted[0]}..{wanted[-1]}")
    return found
