"""`probe`: what a media file holds, read from its headers and packet timestamps."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from vidswap.video.container import first_video_stream, frame_rotation, open_input
from vidswap.video.media import AudioStreamInfo, MediaInfo, Opened, Source, VideoStreamInfo

# packets looked at to estimate the real frame rate and tell variable from constant rate
_TIMING_SAMPLE_PACKETS = 600
# a stream is variable-rate when frame steps differ by more than this share of the median
_VFR_TOLERANCE = 0.1


def probe(path: str | os.PathLike, rates: bool = True) -> MediaInfo:
    """Describe a media file from its headers and first frame; rates=False skips reading
    packet timestamps (real rate, VFR) for a faster open. (An exact frame count needs a
    decode: vidswap.video.count_frames.)"""
    path = Path(path)
    container = open_input(path)
    try:
        info = _read_facts(container, path, [])
    finally:
        container.close()
    if rates:
        _fill_rates(path, info)
    return info


def open_source(path: str | os.PathLike) -> Source:
    """Probe `path` (without sampling rates) and keep its container open for the job's
    first reader, so one open gives both the facts and the frames."""
    path = Path(path)
    container = open_input(path)
    try:
        # set before the first decode: a codec's threading cannot change once it is open
        first_video_stream(container, path).thread_type = "AUTO"
        packets: list[av.Packet] = []
        info = _read_facts(container, path, packets)
        container.streams.video[0].codec_context.flush_buffers()  # the reader decodes `packets` again
    except BaseException:
        container.close()
        raise
    return Source(path, info, Opened(container, packets))


@contextlib.contextmanager
def use_source(source: Source | str | os.PathLike) -> Iterator[Source]:
    """`source` itself when it is a Source (its owner closes it), else one opened for the block."""
    if isinstance(source, Source):
        yield source
    else:
        with open_source(source) as opened:
            yield opened


def rewound_input(source: Source, kind: str) -> av.container.InputContainer:
    """A container of `source`'s file at the start of its first `kind` ("video", "audio")
    stream: one the Source lends, else a new open."""
    return source.take_rewound(kind) or open_input(source.path)


def _read_facts(container: av.container.InputContainer, path: Path, packets: list[av.Packet]) -> MediaInfo:
    """The facts of an open container; the video packets demuxed for them go to `packets`."""
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
    _fill_rotation(container, info, packets)
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


def _fill_rotation(container: av.container.InputContainer, info: MediaInfo, packets: list[av.Packet]) -> None:
    """Rotation (and the decoded pixel format) from the first decodable frame."""
    video = info.main_video
    try:
        for packet in container.demux(container.streams.video[0]):
            if packet.size:  # not the end-of-stream packet: the reader's demux ends with its own
                packets.append(packet)
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
