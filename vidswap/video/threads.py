"""How many threads each FFmpeg decoder and encoder of this process may use. FFmpeg's own
default is one a core; a batch worker that shares the machine with others lowers it to its
share (vidswap.pipeline.runners.use_cores), as it does torch's, OpenCV's and ONNX Runtime's."""

from __future__ import annotations

import av

_threads = 0  # 0: FFmpeg decides (one a core; x264 about one and a half)


def set_codec_threads(count: int) -> None:
    """Threads for the codecs opened from now on in this process; 0 restores FFmpeg's choice."""
    global _threads
    _threads = max(0, int(count))


def codec_threads() -> int:
    return _threads


def share_threads(stream: av.VideoStream) -> None:
    """Before a decoder is opened: frame and slice threading, with this process's share."""
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = _threads
