"""Decoding: frames as upright RGB uint8 arrays with their exact source timestamps."""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from vidswap.errors import InputError
from vidswap.video.container import first_video_stream, frame_rotation
from vidswap.video.media import Frame, MediaInfo, Source
from vidswap.video.pixels import frame_to_rgb
from vidswap.video.probe import open_source, rewound_input


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a stored picture the way its display matrix says (degrees counter-clockwise)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


class VideoReader:
    """Iterates a file's first video stream. Decodes with FFmpeg's threads; a damaged
    packet is skipped and counted in `warnings` instead of ending the read.

    Given a Source, it reads the facts from it and uses the container the probe left open
    (if no reader took it yet), handing its container back to the source when closed."""

    def __init__(self, source: Source | str | os.PathLike, start: float | None = None, end: float | None = None):
        self._owns_source = not isinstance(source, Source)
        self.source = open_source(source) if self._owns_source else source
        self.path = self.source.path
        self.info: MediaInfo = self.source.info
        self.start, self.end = start, end
        self.warnings: list[str] = []
        self.damaged_packets = 0
        opened = self.source.take_fresh()
        # the probe's container, else one a finished reader gave back, else a new open
        self._container = opened.container if opened else rewound_input(self.source, "video")
        self._replay = opened.packets if opened else []  # demuxed by the probe: decoded first
        self.stream = first_video_stream(self._container, self.path)
        if not self.stream.codec_context.is_open:  # a lent container may have decoded already
            self.stream.thread_type = "AUTO"
        self.time_base: Fraction = self.stream.time_base or Fraction(1, 90000)

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.source.give_back(self._container)
        if self._owns_source:
            self.source.close()

    def __iter__(self) -> Iterator[Frame]:
        if self.start:
            self._replay = []
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
            image = upright(frame_to_rgb(frame), frame_rotation(frame))
            yield Frame(index=index, pts=pts, time=time, image=image)
            index += 1
        if self.damaged_packets:
            self.warnings.append(f"{self.path.name}: skipped {self.damaged_packets} damaged packet(s)")

    def _decoded_frames(self) -> Iterator[av.VideoFrame]:
        for packet in self._replay:
            yield from self._decode(packet)
        self._replay = []
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
            yield from self._decode(packet)

    def _decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        try:
            return packet.decode()
        except av.FFmpegError:
            self.damaged_packets += 1
            return []

    def _flush(self) -> Iterator[av.VideoFrame]:
        try:
            yield from self.stream.codec_context.decode(None)
        except av.FFmpegError:
            self.damaged_packets += 1


def open_video(
    source: Source | str | os.PathLike,
    start: float | None = None,
    end: float | None = None,
) -> VideoReader:
    """Open a video for sequential reading (optionally only [start, end) seconds)."""
    return VideoReader(source, start=start, end=end)


def count_frames(of: MediaInfo | Source) -> MediaInfo:
    """Decode every frame of a file (a Source reads from its own container) to count them
    exactly; returns its facts, updated."""
    info = of.info if isinstance(of, Source) else of
    with open_video(of if isinstance(of, Source) else info.path) as reader:
        frames = sum(1 for _ in reader)
        info.warnings.extend(reader.warnings)
    info.main_video.frame_count = frames
    info.main_video.frame_count_exact = True
    return info


def read_frames(source: Source | str | os.PathLike, indices: list[int]) -> list[Frame]:
    """Frames at the given indices (presentation order). Uses decord's random access
    when it is installed, else one sequential PyAV pass (from a Source's own container);
    both give the same frames (decord's colour edges as FFmpeg's fast conversion makes them:
    vidswap.video.pixels)."""
    path = source.path if isinstance(source, Source) else source
    wanted = sorted(set(indices))
    if not wanted:
        return []
    try:  # decord is an optional extra: imported only here
        from vidswap.video.decord_reader import read_frames_decord
    except ImportError:
        pass
    else:
        frames = read_frames_decord(path, wanted)
        if frames is not None:
            return frames
    found: list[Frame] = []
    with open_video(source) as reader:
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
