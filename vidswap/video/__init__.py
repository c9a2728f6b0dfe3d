"""Video I/O: probe, decode (PyAV; decord for random access), encode with audio passthrough."""

from vidswap.video.media import VIDEO_EXTENSIONS, AudioStreamInfo, Frame, MediaInfo, Source, VideoStreamInfo
from vidswap.video.probe import open_source, probe, use_source
from vidswap.video.reader import VideoReader, count_frames, open_video, read_frames
from vidswap.video.writer import VideoWriter, default_output_path

__all__ = [
    "VIDEO_EXTENSIONS",
    "AudioStreamInfo",
    "Frame",
    "MediaInfo",
    "Source",
    "VideoReader",
    "VideoStreamInfo",
    "VideoWriter",
    "count_frames",
    "default_output_path",
    "open_source",
    "open_video",
    "probe",
    "read_frames",
    "use_source",
]
