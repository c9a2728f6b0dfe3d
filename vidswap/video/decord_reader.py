"""Random access with decord (an optional extra, x86-64 only): seeks to key frames
instead of decoding everything before the frames wanted."""

from __future__ import annotations

import os
from pathlib import Path

import decord

from vidswap.video.media import Frame
from vidswap.video.probe import packet_timestamps

# containers with a seek index decord lands on exactly; in AVI and MPEG-PS its seeks
# can decode from the wrong reference frame and give slightly different pictures
INDEXED_CONTAINERS = {".mp4", ".mov", ".m4v", ".mkv", ".webm"}


def read_frames_decord(path: str | os.PathLike, indices: list[int]) -> list[Frame] | None:
    """Frames at sorted `indices`, or None where decord cannot be trusted with this file
    (it cannot open it, or counts frames differently from the packets): the caller then
    reads them with PyAV. Timestamps come from the packets, as PyAV gives them: decord's
    own ignore the stream's start offset."""
    if Path(path).suffix.lower() not in INDEXED_CONTAINERS:
        return None
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
    except decord.DECORDError:
        return None
    stamps, time_base = packet_timestamps(path)
    if len(stamps) != len(reader) or len(set(stamps)) != len(stamps):
        return None
    indices = [i for i in indices if i < len(reader)]
    if not indices:
        return []
    images = reader.get_batch(indices).asnumpy()
    return [
        Frame(index=i, pts=stamps[i], time=float(stamps[i] * time_base), image=image)
        for i, image in zip(indices, images)
    ]
