"""Stopping a command with Ctrl-C (SIGINT) or SIGTERM: the command says in one line what it
kept and what it removed, and exits 128 + the signal's number (130, 143).

SIGTERM is raised in the main thread as Ctrl-C is (Terminated, a KeyboardInterrupt), so the
clean-up that already runs on Ctrl-C (temporary files removed, the batch manifest left
resumable) runs on SIGTERM too."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is."""

    signum = signal.SIGTERM


class Stopped(Exception):
    """A command stopped by a signal; `kept` says what it kept and what it removed."""

    def __init__(self, signum: int, kept: str):
        super().__init__(kept)
        self.signum, self.kept = signum, kept


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block SIGTERM raises Terminated, unless something else already handles it."""
    if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _terminate(signum, frame) -> None:
    raise Terminated


def signal_of(exc: BaseException) -> int:
    """The signal behind an interruption: SIGTERM for Terminated, else SIGINT (Ctrl-C)."""
    return getattr(exc, "signum", signal.SIGINT)


@contextlib.contextmanager
def explained(kept: Callable[[], str]) -> Iterator[None]:
    """A stop inside the block becomes Stopped with the line `kept()` gives, called after
    the block's own clean-up has run."""
    try:
        yield
    except KeyboardInterrupt as exc:
        raise Stopped(signal_of(exc), kept()) from None
