"""Video I/O: probe, decode (PyAV; decord for random access), encode with audio passthrough."""

from vidswap.video.probe import AudioStreamInfo, MediaInfo, VideoStreamInfo, probe
from vidswap.video.reader import Frame, VideoReader, open_video, read_frames
from vidswap.video.writer import VideoWriter, default_output_path

__all__ = [
    "AudioStreamInfo",
    "Frame",
    "MediaInfo",
    "VideoReader",
    "VideoStreamInfo",
    "VideoWriter",
    "default_output_path",
    "open_video",
    "probe",
    "read_frames",
]
