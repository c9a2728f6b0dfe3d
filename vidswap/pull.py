"""Pulling a published generator: download it from its project's address (or a mirror: a
folder or a URL), check its checksum, and import it into the store under its catalog name
like any other model.

The checksum is the generator file's (inside the archive for CUT's): the import records it in
the model card (extra["source"], with the catalog name it was pulled as) and a later pull must
match it, and the catalog's own sha256 where it has one. A model merely imported under a
catalog name has no such record: pulling with --force replaces it. Everything is built in a
hidden folder inside the store that is removed whatever happens, so a failure leaves no model
behind. An archive that several models share (CUT's six) is kept in the store's `.downloads`
until every model in it is pulled, so it is downloaded once; a broken download of it is kept
there too, and the next pull continues it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from rich.progress import Progress

from vidswap.catalog import CATALOG, PublishedModel
from vidswap.download import download, extract_member
from vidswap.errors import ConfigError, DownloadError, ModelError
from vidswap.importer import import_checkpoint
from vidswap.models import CARD_FILE, models_home, read_card

# what torch.save writes: a zip archive, or (before PyTorch 1.6, as the official files are) a pickle
CHECKPOINT_STARTS = (b"PK\x03\x04", b"\x80")
DOWNLOADS = ".downloads"  # in the store: shared archives, hidden from the model listing


def source_url(entry: PublishedModel, mirror: str | None = None) -> str:
    """The entry's address, or the same path below a mirror: a base URL or a folder
    (https://host/models -> https://host/models/cyclegan/pretrained_models/style_vangogh.pth)."""
    if not mirror:
        return entry.url
    if "://" not in mirror:
        folder = Path(mirror).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"mirror {mirror!r} is not a folder (give a folder, or an http, https or file URL)")
        mirror = folder.resolve().as_uri()
    return mirror.rstrip("/") + urlsplit(entry.url).path


def stored_source(entry: PublishedModel, models_dir: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """Where the model stored under `entry`'s name came from (its card's source: the file, its
    checksum, and `published` when it was pulled); None if no such model is stored."""
    folder = models_home(models_dir) / entry.name
    if not (folder / CARD_FILE).is_file():
        return None
    source = read_card(folder).extra.get("source")
    return source if isinstance(source, dict) else {}


def recorded_sha256(entry: PublishedModel, models_dir: str | os.PathLike | None = None) -> str | None:
    """The generator file's checksum recorded when `entry` was pulled; None if it was not."""
    source = stored_source(entry, models_dir) or {}
    return source.get("sha256") if source.get("published") == entry.name else None


def archive_path(entry: PublishedModel, store: Path) -> Path:
    """Where the archive holding `entry` is kept while some of its models are not pulled."""
    return store / DOWNLOADS / entry.project / PurePosixPath(urlsplit(entry.url).path).name


def pull(entry: PublishedModel, models_dir: str | os.PathLike | None = None, *, mirror: str | None = None,
         progress: Progress | None = None, fresh: bool = False) -> Path:  # fmt: skip
    """Download, check and import `entry`, replacing a model already stored under its name; the
    model folder. `fresh`: download a shared archive again even when one is kept."""
    store = models_home(models_dir)
    url = source_url(entry, mirror)
    recorded = recorded_sha256(entry, models_dir)
    store.mkdir(parents=True, exist_ok=True)
    archive = archive_path(entry, store) if entry.member else None
    with tempfile.TemporaryDirectory(prefix=f".pull-{entry.name}.", dir=store) as tmp:
        try:
            if archive is None:
                checkpoint = Path(tmp) / (PurePosixPath(urlsplit(url).path).name or entry.name)
                sha256 = download(url, checkpoint, progress)
            else:
                checkpoint = Path(tmp) / PurePosixPath(entry.member).name
                sha256 = extract_member(fetch_archive(url, archive, progress, fresh), entry.member, checkpoint)
            check_checkpoint(checkpoint, sha256, url, ((entry.sha256, "published"),
                                                       (recorded, "recorded at its first pull")))  # fmt: skip
        except ModelError:
            if archive is not None:
                forget(archive)  # a wrong or damaged archive: the next pull fetches it again
            raise
        folder, _ = import_checkpoint(checkpoint, entry.name, models_dir=models_dir, mode="frame",
                                      domains=[entry.source, entry.target], replace=True,
                                      source={"published": entry.name, "url": url})  # fmt: skip
    if archive is not None and all((store / e.name / CARD_FILE).is_file() for e in CATALOG if e.url == entry.url):
        forget(archive)  # every model in it is stored
    return folder


def forget(archive: Path) -> None:
    """Remove a kept archive, and its folders once empty."""
    archive.unlink(missing_ok=True)
    for folder in (archive.parent, archive.parent.parent):
        with contextlib.suppress(OSError):  # not empty: another archive or a broken download is kept
            folder.rmdir()


def fetch_archive(url: str, archive: Path, progress: Progress | None, fresh: bool) -> Path:
    """The shared archive, downloaded unless it is kept already; a broken download stays beside it."""
    if archive.is_file() and not fresh:
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    try:
        download(url, archive, progress, keep_partial=True)
    except DownloadError as exc:
        raise DownloadError(f"{exc}; what arrived is kept in {archive.parent}: pulling again continues it") from None
    return archive


def check_checkpoint(checkpoint: Path, sha256: str, url: str, expected: tuple[tuple[str | None, str], ...]) -> None:
    """A PyTorch checkpoint whose checksum is each expected one that is known."""
    with open(checkpoint, "rb") as f:
        head = f.read(4)
    if not head.startswith(CHECKPOINT_STARTS):
        raise ModelError(f"{url} did not give a PyTorch checkpoint (it starts with {head!r}): "
                         "a wrong address or mirror?")  # fmt: skip
    for checksum, where in expected:
        if checksum and sha256 != checksum:
            raise ModelError(
                f"checksum mismatch for {url}: sha256 {sha256[:16]}..., {where} {checksum[:16]}... "
                "(the file changed or was tampered with; the store is unchanged)"
            )
