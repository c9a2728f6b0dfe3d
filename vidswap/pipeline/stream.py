"""A three-stage streaming pipeline: decode in one thread, translate in the caller's
thread, encode in another, joined by bounded queues so memory stays flat however long
the video is. PyAV releases the GIL while it decodes and encodes, so the stages overlap."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_DONE = object()


class _Stage(threading.Thread):
    """Runs `work` in a thread; an exception is kept and re-raised by `check`."""

    def __init__(self, name: str, work: Callable[[], None]):
        super().__init__(name=name, daemon=True)
        self._work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # handed to the main thread
            self.error = exc

    def check(self) -> None:
        if self.error is not None:
            raise self.error


class Stop(Exception):
    """Raised inside a stage when another stage failed or the run was interrupted."""


def _put(q: queue.Queue, item: Any, stop: threading.Event, stages: Iterable[_Stage]) -> None:
    while True:
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            _check(stop, stages)


def _check(stop: threading.Event, stages: Iterable[_Stage]) -> None:
    """Raise a failed stage's error, or Stop once the run is being torn down."""
    for stage in stages:
        stage.check()
    if stop.is_set():
        raise Stop


def _get(q: queue.Queue, stop: threading.Event, stages: Iterable[_Stage]) -> Any:
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            _check(stop, stages)


def run_pipeline(
    source: Iterator[Any],
    process: Callable[[list[Any]], list[Any]],
    sink: Callable[[Any], None],
    *,
    batch_size: int = 1,
    queue_size: int = 8,
) -> None:
    """Pull items from `source` (in a thread), hand them to `process` in batches of up to
    `batch_size` (here), and pass each result to `sink` (in a thread), in order."""
    stop = threading.Event()
    inbox: queue.Queue = queue.Queue(maxsize=queue_size)
    outbox: queue.Queue = queue.Queue(maxsize=queue_size)

    def read() -> None:
        for item in source:
            _put(inbox, item, stop, ())
        _put(inbox, _DONE, stop, ())

    def write() -> None:
        while (item := _get(outbox, stop, ())) is not _DONE:
            sink(item)

    reader, writer = _Stage("vidswap-decode", read), _Stage("vidswap-encode", write)
    reader.start()
    writer.start()
    try:
        finished = False
        while not finished:
            batch = []
            while len(batch) < batch_size:
                item = _get(inbox, stop, (reader, writer))
                if item is _DONE:
                    finished = True
                    break
                batch.append(item)
            for result in process(batch) if batch else ():
                _put(outbox, result, stop, (writer,))
            writer.check()
        _put(outbox, _DONE, stop, (writer,))
        while writer.is_alive():
            writer.join(0.1)
        writer.check()
        reader.join()
        reader.check()
    except BaseException:
        stop.set()
        reader.join(5)
        writer.join(5)
        for stage in (reader, writer):
            if stage.error is not None and not isinstance(stage.error, Stop):
                raise stage.error from None
        raise
