"""Helpers for the face tests: the synthetic clips' geometry, a video writer."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from tests.helpers import FOOTAGE  # noqa: F401  (re-exported for the face tests)

FRAME_W, FRAME_H = 320, 240
N_FRAMES = 36
COVERED = range(16, 20)  # positions where a grey card hides the face


def write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """Encode RGB frames as H.264 with PyAV (what a phone or camera would give)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return path
