"""The batch worker protocol: what a worker receives (a Job and the settings), what it
sends back (progress events and an Outcome), and how it classifies a failure. The driver
(vidswap.pipeline.batch) and the runners (vidswap.pipeline.runners) both build on it;
neither imports the other's side.

Events a worker sends: ("start", worker, key, frames), ("frames", worker, key, done),
and its runner adds ("outcome", worker, Outcome)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vidswap.errors import VidswapError
from vidswap.pipeline.translator import Translator
from vidswap.settings import TranslatorSettings, VideoSettings
from vidswap.video import MediaInfo, Source

FRAME_REPORT_SECONDS = 0.25


@dataclass
class Job:
    key: str  # the source's path relative to the library, '/'-separated (the manifest's key)
    source: str
    output: str
    info: MediaInfo | None = None  # the source's facts when planning probed it (not probed again)


@dataclass
class Outcome:
    """What a worker reports for one job."""

    key: str
    worker: str
    frames: int = 0
    seconds: float = 0.0
    size: int = 0
    sha256: str = ""
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    permanent: bool = False  # the input's fault: do not retry
    stop_code: int = 0  # non-zero: a batch-wide error with this exit code; stop the batch
    lost: bool = False  # the machine running it was lost: back to the queue, no attempt counted

    @property
    def ok(self) -> bool:
        return self.error is None


def error_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def failed(job: Job, worker: str, exc: BaseException) -> Outcome:
    """The outcome of a job that raised: the error's class says whether the input is at
    fault (not retried) or no file can succeed (the batch stops); anything else may be
    passing (memory, a full disk) and is retried."""
    line = error_line(exc).replace(f"{job.source}: ", "")  # the manifest and the report name the file
    if not isinstance(exc, VidswapError):
        return Outcome(job.key, worker, error=f"{type(exc).__name__}: {line}")
    return Outcome(job.key, worker, error=line, permanent=exc.input_fault,
                   stop_code=exc.exit_code if exc.stops_batch else 0)  # fmt: skip


def file_digest(path: str | os.PathLike) -> tuple[int, str]:
    """(size, sha256 hex) of a file: how an output is reported and later verified."""
    with open(path, "rb") as f:
        return os.fstat(f.fileno()).st_size, hashlib.file_digest(f, "sha256").hexdigest()


def convert(job: Job, translator: Translator, video: VideoSettings, worker: str,
            send: Callable[[tuple], None]) -> Outcome:  # fmt: skip
    """Translate one file with a loaded Translator; never raises for a bad file: the
    outcome says what happened. `send` carries progress events to the driver."""
    last = [0.0]

    def on_start(total: int | None) -> None:
        send(("start", worker, job.key, total))

    def on_frame(index: int) -> None:
        now = time.monotonic()
        if now - last[0] >= FRAME_REPORT_SECONDS:  # progress, not a message a frame
            last[0] = now
            send(("frames", worker, job.key, index + 1))

    source = Source(job.source, job.info) if job.info else job.source
    try:
        result = translator.apply(source, job.output, video, overwrite=True, on_start=on_start, on_frame=on_frame)
    except Exception as exc:
        return failed(job, worker, exc)
    size, sha256 = file_digest(job.output)
    return Outcome(job.key, worker, frames=result.frames, seconds=result.seconds, size=size, sha256=sha256,
                   warnings=[w.replace(f"{job.source}: ", "") for w in result.warnings])  # fmt: skip


_LOADED: dict[str, Translator] = {}  # this worker process's model: loaded by its first job, kept for the rest


def run_job(job: Job, translator: TranslatorSettings, video: VideoSettings, worker: str,
            send: Callable[[tuple], None]) -> Outcome:  # fmt: skip
    """Worker side: load the model once per process, then convert `job`. A model that
    cannot load stops the batch (no file could succeed)."""
    key = repr(translator)
    if key not in _LOADED:
        try:
            _LOADED.clear()
            _LOADED[key] = Translator(translator)
        except VidswapError as exc:
            return Outcome(job.key, worker, error=error_line(exc), stop_code=exc.exit_code)
    return convert(job, _LOADED[key], video, worker, send)
