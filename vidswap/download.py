"""Fetching a file with the standard library (http, https, file URLs): written to a hidden
`.part` file beside the destination and renamed into place only once complete. A connection
that drops is retried, continuing where it stopped (an HTTP Range request) when the server
allows. Also copying one file out of a zip or tar archive without extracting anything else."""

from __future__ import annotations

import hashlib
import http.client
import re
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import IO

from rich.progress import Progress

from vidswap.errors import DownloadError, ModelError

CHUNK = 1 << 20
ATTEMPTS = 3  # tries of one download: a dropped connection or a server error is tried again
RETRY_DELAY = 1.0  # seconds before the second try, doubled for each next one
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+)")


class _Retryable(DownloadError):
    """A failure that another try may not have: a connection refused, reset or cut off, a timeout, HTTP 5xx."""


def download(url: str, dest: Path, progress: Progress | None = None, timeout: float = 30.0,
             keep_partial: bool = False) -> str:  # fmt: skip
    """Fetch `url` into `dest` and return its sha256. A failure is a DownloadError and leaves
    no file at `dest`; what arrived stays in `dest`'s `.part` file with `keep_partial` (the next
    call continues from it), else it is removed. A body shorter than announced is a failure."""
    dest = Path(dest)
    part = dest.with_name(f".{dest.name}.part")
    task = progress.add_task(dest.name, total=None) if progress is not None else None
    try:
        for attempt in range(ATTEMPTS):
            try:
                _fetch(url, part, timeout, progress, task)
                break
            except _Retryable:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(RETRY_DELAY * 2**attempt)
        part.replace(dest)
    except BaseException:
        if not keep_partial:
            part.unlink(missing_ok=True)
        raise
    return file_sha256(dest)


def _fetch(url: str, part: Path, timeout: float, progress: Progress | None, task) -> None:
    """One try: the rest of `url` appended to `part` (or all of it, where the server sends all)."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"vidswap/{version('vidswap')}"} | ({"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            resumed = _CONTENT_RANGE.match(response.headers.get("Content-Range") or "")
            if response.status == 206 and resumed and int(resumed[1]) == have:
                total = int(resumed[2])
            else:  # the whole file (a server or a file URL that ignores ranges): start over
                have, length = 0, response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
            if task is not None:
                progress.update(task, total=total, completed=have)
            received = have
            with part.open("ab" if have else "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    if task is not None:
                        progress.advance(task, len(chunk))
        if total is not None and received != total:
            raise _Retryable(f"download of {url} stopped after {received} of {total} bytes")
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # the range asked for is past the file's end: what we hold is not a start of it
            part.unlink(missing_ok=True)
        failure = _Retryable if exc.code >= 500 or exc.code in (408, 416, 429) else DownloadError
        raise failure(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = getattr(exc.reason, "strerror", None) or exc.reason
        if url.startswith("file:"):
            raise DownloadError(f"cannot read {url}: {reason}") from None
        failure = _Retryable if isinstance(exc.reason, OSError) else DownloadError  # not: an unknown scheme
        raise failure(f"cannot download {url}: {reason} (offline? a mirror can be set with "
                      "VIDSWAP_MODEL_MIRROR)") from None  # fmt: skip
    except ValueError as exc:  # urllib: an address it cannot parse or an unknown scheme
        raise DownloadError(f"cannot download {url}: {exc} (an http, https or file address, or a folder)") from None
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, a connection closed early
        raise _Retryable(f"download of {url} failed: {getattr(exc, 'strerror', None) or exc}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def extract_member(archive: Path, member: str, dest: Path) -> str:
    """Copy the one file of a tar or zip archive whose path ends with `member` to `dest`; its sha256.
    Tar comes first: a tar whose last member is a zip (as torch.save writes) also looks like a zip."""
    wanted = PurePosixPath(member).parts
    try:
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tarred:
                files = [m for m in tarred if m.isfile() and PurePosixPath(m.name).parts[-len(wanted) :] == wanted]
                if files:
                    with tarred.extractfile(files[0]) as source:
                        return _copy(source, dest)
        elif zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                names = [n for n in zipped.namelist() if PurePosixPath(n).parts[-len(wanted) :] == wanted]
                if names:
                    with zipped.open(names[0]) as source:
                        return _copy(source, dest)
        else:
            raise ModelError(f"{archive.name} is not a zip or tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise ModelError(f"damaged archive {archive.name}: {exc}") from None
    raise ModelError(f"archive {archive.name} holds no {member}")


def _copy(source: IO[bytes], dest: Path) -> str:
    digest = hashlib.sha256()
    with open(dest, "wb") as out:
        while chunk := source.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()
