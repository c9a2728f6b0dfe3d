"""`probe`: what a media file holds, read from its headers and packet timestamps."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from vidswap.video.container import first_video_stream, frame_rotation, open_input

# packets looked at to estimate the real frame rate and tell variable from constant rate
_TIMING_SAMPLE_PACKETS = 600
# a stream is variable-rate when frame steps differ by more than this share of the median
_VFR_TOLERANCE = 0.1


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


def probe(path: str | os.PathLike, count: bool = False, rates: bool = True) -> MediaInfo:
    """Describe a media file. With count=True every video frame is decoded and counted;
    rates=False skips reading packet timestamps (real rate, VFR) for a faster open."""
    path = Path(path)
    container = open_input(path)
    try:
        first_video_stream(container, path)
        info = MediaInfo(
            path=str(path),
            container=container.format.name,
            duration=container.duration / av.time_base if container.duration else None,
            size_bytes=path.stat().st_size,
        )
        for stream in container.streams.video:
            info.video.append(_video_stream_info(stream, info.duration))
        for stream in container.streams.audio:
            cc = stream.codec_context
            info.audio.append(
                AudioStreamInfo(
                    index=stream.index,
                    codec=cc.name,
                    sample_rate=cc.sample_rate,
                    channels=cc.channels,
                    layout=cc.layout.name if cc.layout else "",
                    duration=_seconds(stream.duration, stream.time_base),
                )
            )
        _fill_rotation(container, info)
    finally:
        container.close()
    if rates:
        _fill_rates(path, info)
    if count:
        from vidswap.video.reader import open_video

        with open_video(path) as reader:
            frames = sum(1 for _ in reader)
            info.warnings.extend(reader.warnings)
        info.main_video.frame_count = frames
        info.main_video.frame_count_exact = True
    return info


def _video_stream_info(stream: av.VideoStream, container_duration: float | None) -> VideoStreamInfo:
    cc = stream.codec_context
    duration = _seconds(stream.duration, stream.time_base) or container_duration
    frames = stream.frames or None
    if frames is None and duration and stream.average_rate:
        frames = round(duration * stream.average_rate)  # an estimate: marked not exact
    return VideoStreamInfo(
        index=stream.index,
        codec=cc.name,
        width=cc.width,
        height=cc.height,
        coded_width=cc.width,
        coded_height=cc.height,
        pix_fmt=cc.pix_fmt or "",
        rotation=0,
        time_base=str(stream.time_base),
        average_rate=float(stream.average_rate) if stream.average_rate else None,
        real_rate=None,
        variable_rate=False,
        frame_count=frames,
        frame_count_exact=False,
        duration=duration,
    )


def packet_timestamps(path: str | os.PathLike, limit: int | None = None) -> tuple[list[int], Fraction]:
    """Presentation timestamps of the first video stream's packets, sorted, read by
    demuxing alone (no decoding), with the stream's time base."""
    container = open_input(path)
    try:
        stream = first_video_stream(container, path)
        stamps: list[int] = []
        try:
            for packet in container.demux(stream):
                if packet.pts is not None:
                    stamps.append(packet.pts)
                    if limit and len(stamps) >= limit:
                        break
        except av.FFmpegError:
            pass  # damaged data: the timestamps up to it are what there is
        return sorted(stamps), stream.time_base or Fraction(1, 90000)
    finally:
        container.close()


def _fill_rotation(container: av.container.InputContainer, info: MediaInfo) -> None:
    """Rotation (and the decoded pixel format) from the first decodable frame."""
    video = info.main_video
    try:
        for packet in container.demux(container.streams.video[0]):
            frames = _decode_quietly(packet)
            if frames:
                video.rotation = frame_rotation(frames[0])
                video.pix_fmt = frames[0].format.name
                break
    except av.FFmpegError as exc:
        info.warnings.append(f"damaged data at the start of the video: {exc}")
    if video.rotation in (90, 270):
        video.width, video.height = video.coded_height, video.coded_width


def _fill_rates(path: Path, info: MediaInfo) -> None:
    """Real frame rate and variable-rate flag from packet timestamps."""
    video = info.main_video
    stamps, time_base = packet_timestamps(path, limit=_TIMING_SAMPLE_PACKETS)
    steps = sorted(b - a for a, b in zip(stamps, stamps[1:]) if b > a)
    if steps:
        median = steps[len(steps) // 2]
        video.real_rate = 1.0 / float(median * time_base)
        video.variable_rate = (steps[-1] - steps[0]) > _VFR_TOLERANCE * median


def _decode_quietly(packet: av.Packet) -> list[av.VideoFrame]:
    try:
        return packet.decode()
    except av.FFmpegError:
        return []


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    return float(value * time_base) if value and time_base else None

