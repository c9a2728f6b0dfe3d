"""Fetching a file with the standard library (http, https, file URLs): written to a temporary
name beside the destination and renamed into place only once complete, hashed on the way.
Also copying one file out of a zip or tar archive without extracting anything else."""

from __future__ import annotations

import hashlib
import http.client
import tarfile
import urllib.error
import urllib.request
import zipfile
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import IO

from rich.progress import Progress

from vidswap.errors import DownloadError, ModelError

CHUNK = 1 << 20


def download(url: str, dest: Path, progress: Progress | None = None, timeout: float = 30.0) -> str:
    """Fetch `url` into `dest` and return its sha256. A failure is a DownloadError and leaves
    no file behind; a body shorter than its Content-Length counts as a failure."""
    dest = Path(dest)
    part = dest.with_name(f".{dest.name}.part")
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": f"vidswap/{version('vidswap')}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, part.open("wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            task = progress.add_task(dest.name, total=total) if progress is not None else None
            received = 0
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if task is not None:
                    progress.advance(task, len(chunk))
        if total is not None and received != total:
            raise DownloadError(f"download of {url} stopped after {received} of {total} bytes")
        part.replace(dest)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = getattr(exc.reason, "strerror", None) or exc.reason
        raise DownloadError(f"cannot download {url}: {reason} (offline? a mirror can be set with "
                            "VIDSWAP_MODEL_MIRROR)") from None  # fmt: skip
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, a connection closed early
        raise DownloadError(f"download of {url} failed: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        part.unlink(missing_ok=True)
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
