"""Encoding: every frame at its own source timestamp, the source's audio packets copied
unchanged in the same pass, written to a temporary file renamed into place on success."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidswap.errors import ConfigError, OutputError
from vidswap.fsutil import atomic_path
from vidswap.video.container import open_input
from vidswap.video.media import MediaInfo, Source
from vidswap.video.probe import probe, rewound_input

# containers whose extension an output keeps; anything else (Ogg, for one, cannot hold
# H.264) becomes MP4, which keeps the source's time base exactly, or Matroska (time
# base 1 ms, but it takes every audio codec as-is) when the audio would not fit in MP4
KEPT_EXTENSIONS = {".mp4", ".mov", ".m4v", ".mkv"}
MP4_AUDIO_CODECS = {"aac", "mp3", "mp2", "opus", "ac3", "eac3", "alac", "flac"}
# muxers that store negative timestamps (with an edit list) instead of shifting every stream
_NEGATIVE_TS_MUXERS = {"mp4", "mov"}
# encoder options each codec understands for the CRF/preset settings
_PRESET_CODECS = {"libx264", "libx265", "libsvtav1"}
# (codec, muxer) pairs FFmpeg accepts only with "-strict experimental"
_EXPERIMENTAL_MUXING = {("vorbis", "mp4"), ("opus", "mov")}


def default_output_path(source: str | os.PathLike, tag: str = "vidswap", info: MediaInfo | None = None) -> Path:
    """The output beside `source`; its container depends on the source's audio (`info`,
    probed here when not given) unless the source's own is kept."""
    source = Path(source)
    suffix = source.suffix.lower()
    if suffix not in KEPT_EXTENSIONS:
        audio = {a.codec for a in (info or probe(source, rates=False)).audio}
        suffix = ".mp4" if audio <= MP4_AUDIO_CODECS else ".mkv"
    return source.with_name(f"{source.stem}.{tag}{suffix}")


class VideoWriter:
    """Write RGB frames with explicit timestamps; use as a context manager.

    pts are in `time_base` (pass the source stream's, so timing is identical, variable
    frame rate included); `shift` seconds are subtracted from every video and audio
    timestamp (used when converting part of a clip)."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        width: int,
        height: int,
        time_base: Fraction,
        frame_rate: Fraction | float | None = None,
        codec: str = "libx264",
        crf: int = 18,
        preset: str = "medium",
        pix_fmt: str | None = None,
        audio_from: Source | str | os.PathLike | None = None,
        audio_window: tuple[float | None, float | None] = (None, None),
        shift: float = 0.0,
    ):
        self.path = Path(path)
        self.time_base = Fraction(time_base)
        self._shift_pts = round(shift / self.time_base)
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        self._closed = False
        try:
            self._container = av.open(str(self._tmp), "w", options=self._muxer_options())
            self._video = self._add_video(width, height, frame_rate, codec, crf, preset, pix_fmt)
            self._audio = _AudioPassthrough(audio_from, self._container, audio_window, shift) if audio_from else None
        except BaseException as exc:
            self._abort(exc)
            raise
        self.frames_written = 0
        self._last_pts: int | None = None

    @property
    def warnings(self) -> list[str]:
        return self._audio.warnings if self._audio else []

    def _muxer_options(self) -> dict[str, str]:
        if self.path.suffix.lower() in (".mp4", ".mov", ".m4v"):
            # edit lists are stored in the movie time scale (1 ms by default): use the
            # video's own so a stream starting after zero keeps its exact start
            return {"movie_timescale": str(self.time_base.denominator)}
        return {}

    def _add_video(self, width, height, frame_rate, codec, crf, preset, pix_fmt) -> av.VideoStream:
        supported = self._container.supported_codecs
        if codec not in supported and av.Codec(codec, "w").name not in supported:
            raise ConfigError(f"the {self.path.suffix or '?'} container cannot hold {codec} video; use .mp4 or .mkv")
        rate = Fraction(frame_rate).limit_denominator(100000) if frame_rate else None
        stream = self._container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        # 4:2:0 needs even sizes; odd sizes keep every pixel with 4:4:4 instead of cropping
        stream.pix_fmt = pix_fmt or ("yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p")
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        options = {"crf": str(crf)}
        if codec in _PRESET_CODECS:
            options["preset"] = preset
        if codec == "libvpx-vp9":
            options["b"] = "0"  # constant quality mode
        stream.options = options
        return stream

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode one H x W x 3 uint8 RGB frame at source timestamp `pts`."""
        pts -= self._shift_pts
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"timestamps must increase: {pts} after {self._last_pts}")
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = pts
        frame.time_base = self.time_base
        self._mux_video(self._video.encode(frame))
        self.frames_written += 1

    def _mux_video(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            if self._audio and packet.pts is not None:
                self._audio.copy_until(float(packet.pts * packet.time_base))
            self._container.mux(packet)

    def close(self) -> None:
        """Flush, copy the remaining audio and move the file into place."""
        if self._closed:
            return
        try:
            self._mux_video(self._video.encode(None))
            if self._audio:
                self._audio.finish()
            self._container.close()
            if self.frames_written == 0:
                raise OutputError(f"{self.path}: no frames to write")
        except BaseException as exc:
            self._abort(exc)
            raise
        self._closed = True
        self._atomic.__exit__(None, None, None)

    def _abort(self, exc: BaseException) -> None:
        """Drop the partial file; nothing is left at the output path."""
        self._closed = True
        for closing in (getattr(self, "_audio", None), getattr(self, "_container", None)):
            try:
                if closing:
                    closing.close()
            except Exception:
                pass
        self._atomic.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
        elif not self._closed:
            self._abort(exc)


class _AudioPassthrough:
    """Copies the source's audio packets, interleaved by time with the video being
    written. Packets are muxed unchanged; a codec the output container cannot hold is
    transcoded (AAC for MP4/MOV, else the container's default)."""

    def __init__(self, source: Source | str | os.PathLike, container, window: tuple[float | None, float | None],
                 shift: float):  # fmt: skip
        # a Source lends a container it has read (no new open of the file)
        self._source = rewound_input(source, "audio") if isinstance(source, Source) else open_input(source)
        self._start, self._end = window
        self._shift = shift
        self._routes: dict[int, tuple[av.AudioStream, av.AudioStream, bool]] = {}
        for in_stream in self._source.streams.audio:
            out = self._copy_stream(container, in_stream)
            copy = out is not None
            if out is None:
                out = container.add_stream(
                    "aac" if container.format.name in ("mp4", "mov") else container.default_audio_codec,
                    rate=in_stream.codec_context.sample_rate,
                )
            self._routes[in_stream.index] = (in_stream, out, copy)
        self._container = container
        self._keeps_negative = container.format.name in _NEGATIVE_TS_MUXERS
        self._packets = self._source.demux([r[0] for r in self._routes.values()]) if self._routes else iter(())
        self._pending: av.Packet | None = None
        self._last_dts: dict[int, int] = {}
        self.packets_copied = 0
        self.packets_dropped = 0
        self.warnings: list[str] = []

    @staticmethod
    def _copy_stream(container, in_stream) -> av.AudioStream | None:
        """An output stream taking the packets as they are, or None where the container
        cannot hold the codec (FFmpeg's MP4 muxer lists Vorbis but only as experimental)."""
        codec = in_stream.codec_context.name
        if codec not in container.supported_codecs or (codec, container.format.name) in _EXPERIMENTAL_MUXING:
            return None
        try:
            return container.add_stream_from_template(in_stream)
        except ValueError:
            return None

    def copy_until(self, seconds: float | None) -> None:
        while True:
            packet = self._pending or self._next_packet()
            if packet is None:
                return
            time = float(packet.pts * packet.time_base)
            if seconds is not None and time > seconds:
                self._pending = packet
                return
            self._pending = None
            if self._end is not None and time >= self._end:
                continue
            if time - self._shift < 0 and not self._keeps_negative:
                # audio before the video's time zero: this muxer would shift the video to fit it
                self.packets_dropped += 1
                continue
            if self._start is None or time >= self._start:
                self._emit(packet)

    def _next_packet(self) -> av.Packet | None:
        try:
            for packet in self._packets:
                if packet.size and packet.pts is not None:
                    return packet
        except av.FFmpegError as exc:
            self.warnings.append(f"audio stopped at damaged data ({exc.strerror or exc})")
            self._packets = iter(())
        return None

    def _emit(self, packet: av.Packet) -> None:
        in_stream, out, copy = self._routes[packet.stream.index]
        shift = round(self._shift / packet.time_base)
        if copy:
            dts = packet.pts if packet.dts is None else packet.dts
            if dts <= self._last_dts.get(out.index, -(2**62)):
                self.packets_dropped += 1  # damaged files repeat or reorder stamps; muxers refuse them
                return
            self._last_dts[out.index] = dts
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = out
            self._container.mux(packet)
            self.packets_copied += 1
            return
        for frame in packet.decode():
            frame.pts = None  # the encoder numbers samples itself
            self._container.mux(out.encode(frame))

    def finish(self) -> None:
        self.copy_until(None)
        if self.packets_dropped:
            self.warnings.append(
                f"dropped {self.packets_dropped} audio packet(s) timed out of order or before the video starts"
            )
        for _, out, copy in self._routes.values():
            if not copy:
                self._container.mux(out.encode(None))
        self.close()

    def close(self) -> None:
        self._source.close()
