"""Apply a translation to a video: decode, translate, encode with the source's timing
and audio, as one streaming pass."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidswap.pipeline.stream import run_pipeline
from vidswap.settings import EncodeOptions
from vidswap.video import Frame, Source, VideoWriter, open_video, use_source

# turn a batch of decoded frames (upright RGB uint8) into output images of the same size
Process = Callable[[list[Frame]], list[np.ndarray]]
# temporal smoothing: (input image, output image) in frame order -> smoothed output
Smooth = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class ApplyResult:
    output: Path
    frames: int
    seconds: float
    audio_streams: int
    warnings: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def apply_video(
    source: Source | str | os.PathLike,
    output: str | os.PathLike,
    process: Process,
    *,
    encode: EncodeOptions | None = None,
    start: float | None = None,
    end: float | None = None,
    batch_size: int = 1,
    smooth: Smooth | None = None,
    preview: str | os.PathLike | None = None,
    on_frame: Callable[[int], None] | None = None,
    on_start: Callable[[int | None], None] | None = None,
) -> ApplyResult:
    """Translate `source` (best a Source opened once for the whole job) into `output`. Every frame
    keeps its source timestamp (shifted so a clip cut with `start` begins at its first frame);
    audio packets are copied (unless `encode.audio` is off).
    `preview`, if given, also gets a side-by-side (input | output) video."""
    encode = encode or EncodeOptions()
    began = time.perf_counter()
    with use_source(source) as source, open_video(source, start=start, end=end) as reader:
        video = reader.info.main_video
        if on_start:
            on_start(video.frame_count)
        shift = 0.0 if start is None else float(start)

        def open_writer(path, width):
            return VideoWriter(
                path,
                width=width,
                height=video.height,
                time_base=reader.time_base,
                frame_rate=video.average_rate,
                codec=encode.codec,
                crf=encode.crf,
                preset=encode.preset,
                pix_fmt=encode.pix_fmt,
                audio_from=source if encode.audio and source.info.audio else None,
                audio_window=(start, end),
                shift=shift,
            )

        with contextlib.ExitStack() as stack:
            writer = stack.enter_context(open_writer(output, video.width))
            side_by_side = stack.enter_context(open_writer(preview, 2 * video.width)) if preview else None

            def translate_frames(frames: list[Frame]) -> list[tuple[Frame, np.ndarray]]:
                images = process(frames)
                if smooth:
                    images = [smooth(f.image, image) for f, image in zip(frames, images)]
                return list(zip(frames, images))

            def write(item: tuple[Frame, np.ndarray]) -> None:
                frame, image = item
                writer.write(image, frame.pts)
                if side_by_side:
                    side_by_side.write(np.hstack([frame.image, image]), frame.pts)
                if on_frame:
                    on_frame(frame.index)

            run_pipeline(iter(reader), translate_frames, write, batch_size=batch_size)
        return ApplyResult(
            output=Path(output),
            frames=writer.frames_written,
            seconds=time.perf_counter() - began,
            audio_streams=len(reader.info.audio) if encode.audio else 0,
            warnings=reader.warnings + writer.warnings,
        )
