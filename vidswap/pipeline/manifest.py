"""The batch manifest: one SQLite file in the output folder recording each source's state.

SQLite because every update is a transaction: a run killed at any moment leaves the
manifest as it was after the last finished update, never half-written. Only the batch
driver opens it (workers, local or on Ray, report back to the driver), and a lock file
beside it keeps two batches out of the same folder.

States: pending -> running -> done (output size and sha256) | failed (one-line reason,
attempts). `events` is an append-only history, so "converted exactly once" can be
checked after any sequence of runs and kills."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from vidswap.errors import ConfigError

MANIFEST_NAME = ".vidswap-manifest.sqlite"
LOCK_NAME = ".vidswap-batch.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY,          -- path relative to the library, '/'-separated
    output TEXT NOT NULL UNIQUE,      -- path relative to the output folder
    source_size INTEGER NOT NULL,     -- with source_mtime: a changed source is a new file
    source_mtime INTEGER NOT NULL,
    state TEXT NOT NULL,              -- pending | running | done | failed
    attempts INTEGER NOT NULL DEFAULT 0,   -- failed attempts
    permanent INTEGER NOT NULL DEFAULT 0,  -- the failure is the input's fault: retrying cannot help
    error TEXT, size INTEGER, sha256 TEXT, frames INTEGER, seconds REAL, worker TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, run INTEGER NOT NULL, source TEXT NOT NULL,
    event TEXT NOT NULL, detail TEXT, time REAL NOT NULL
);
"""


@dataclass
class Entry:
    source: str
    output: str
    source_size: int
    source_mtime: int
    state: str
    attempts: int
    permanent: bool
    error: str | None
    size: int | None
    sha256: str | None
    frames: int | None
    seconds: float | None
    worker: str | None


class Manifest:
    """The manifest of one output folder; `lock=True` (the driver) holds the folder's lock;
    `create=False` opens an existing one read-only (--status, --dry-run)."""

    def __init__(self, out_dir: str | os.PathLike, *, lock: bool = True, create: bool = True):
        self.out_dir = Path(out_dir)
        path = self.out_dir / MANIFEST_NAME
        if not create and not path.is_file():
            raise ConfigError(f"{self.out_dir}: no batch manifest here ({MANIFEST_NAME})")
        self._lock_fd = self._take_lock() if lock else None
        # each `with self._db:` block is one transaction
        self._db = sqlite3.connect(path) if create else sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        self._db.row_factory = sqlite3.Row
        if create:
            self._db.executescript(_SCHEMA)
        self.run = self._count_run() if lock else None

    def _count_run(self) -> int:
        """This run's number: the driver's events carry it."""
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('runs', '0')")
            self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'runs'")
            (run,) = self._db.execute("SELECT value FROM meta WHERE key = 'runs'").fetchone()
        return int(run)

    def _take_lock(self) -> int:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the kernel even after kill -9
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"another vidswap batch is writing into {self.out_dir}") from None
        return fd

    def close(self) -> None:
        self._db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- settings ---------------------------------------------------------------------

    def check_settings(self, settings: dict, record: bool = True) -> None:
        """Record the settings that shape the outputs (unless `record` is False); a later run
        with other ones would mix two kinds of output in one folder, so it is refused."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        if row is None and not record:
            return
        if row is None:
            with self._db:
                self._db.execute("INSERT INTO meta VALUES ('settings', ?)", (json.dumps(settings, sort_keys=True),))
            return
        before, now = _flatten(json.loads(row["value"])), _flatten(settings)
        changed = [f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(before) | set(now))
                   if before.get(k) != now.get(k)]  # fmt: skip
        if changed:
            raise ConfigError(f"{self.out_dir} holds a batch made with other settings ({'; '.join(changed)}); "
                              "convert into another folder")  # fmt: skip

    # -- entries ----------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        rows = self._db.execute("SELECT * FROM files ORDER BY source").fetchall()
        return [_entry(row) for row in rows]

    def get(self, source: str) -> Entry:
        return _entry(self._db.execute("SELECT * FROM files WHERE source = ?", (source,)).fetchone())

    def add(self, source: str, output: str, size: int, mtime: int) -> None:
        """A new source, or one whose file changed since: pending, with no attempts."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO files (source, output, source_size, source_mtime, state, updated) "
                "VALUES (?, ?, ?, ?, 'pending', ?)",
                (source, output, size, mtime, time.time()),
            )
            self._event(source, "added", output)

    def set_pending(self, source: str, why: str) -> None:
        self._update(source, "redo", why, state="pending")

    def set_running(self, source: str) -> None:
        self._update(source, "running", None, state="running")

    def set_done(self, source: str, *, size: int, sha256: str, frames: int, seconds: float, worker: str) -> None:
        self._update(source, "done", sha256, state="done", error=None, permanent=0, size=size, sha256=sha256,
                     frames=frames, seconds=seconds, worker=worker)  # fmt: skip

    def set_failed(self, source: str, error: str, *, permanent: bool, worker: str | None) -> None:
        (attempts,) = self._db.execute("SELECT attempts FROM files WHERE source = ?", (source,)).fetchone()
        self._update(source, "failed", error, state="failed", error=error, permanent=int(permanent),
                     attempts=attempts + 1, worker=worker)  # fmt: skip

    def _update(self, source: str, event: str, detail: str | None, **values) -> None:
        """Change one entry and log the event, as one transaction."""
        values["updated"] = time.time()
        with self._db:
            self._db.execute(f"UPDATE files SET {', '.join(f'{k} = ?' for k in values)} WHERE source = ?",
                             (*values.values(), source))  # fmt: skip
            self._event(source, event, detail)

    def _event(self, source: str, event: str, detail: str | None) -> None:
        self._db.execute(
            "INSERT INTO events (run, source, event, detail, time) VALUES (?, ?, ?, ?, ?)",
            (self.run, source, event, detail, time.time()),
        )

    def events(self, event: str | None = None) -> list[tuple[int, str, str, str | None]]:
        """(run, source, event, detail) in order; only `event` ones when given."""
        sql = "SELECT run, source, event, detail FROM events" + (" WHERE event = ?" if event else "") + " ORDER BY id"
        return [tuple(r) for r in self._db.execute(sql, (event,) if event else ())]


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(**{k: row[k] for k in Entry.__dataclass_fields__})


def _flatten(settings: dict, prefix: str = "") -> dict:
    """{"face": {"blur": 0.1}} -> {"face.blur": 0.1}, so a change names its own key."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat
