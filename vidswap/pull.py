"""Pulling a published generator: download it from its project's address (or a mirror), check
its checksum, and import it into the store under its catalog name like any other model.

The checksum is the generator file's (inside the archive for CUT's): the import records it in
the model card (extra["source"]["sha256"]) and a later pull must match it, and the catalog's
own sha256 where it has one. Everything is built in a hidden folder inside the store that is
removed whatever happens, so a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from rich.progress import Progress

from vidswap.catalog import PublishedModel
from vidswap.download import download, extract_member
from vidswap.errors import ModelError
from vidswap.importer import import_checkpoint
from vidswap.models import CARD_FILE, models_home, read_card

# what torch.save writes: a zip archive, or (before PyTorch 1.6, as the official files are) a pickle
CHECKPOINT_STARTS = (b"PK\x03\x04", b"\x80")


def source_url(entry: PublishedModel, mirror: str | None = None) -> str:
    """The entry's address, or the same path below a mirror's base URL
    (https://host/models -> https://host/models/cyclegan/pretrained_models/style_vangogh.pth)."""
    return mirror.rstrip("/") + urlsplit(entry.url).path if mirror else entry.url


def recorded_sha256(entry: PublishedModel, models_dir: str | os.PathLike | None = None) -> str | None:
    """The generator file's checksum recorded when `entry` was pulled; None if it is not in the store."""
    folder = models_home(models_dir) / entry.name
    if not (folder / CARD_FILE).is_file():
        return None
    source = read_card(folder).extra.get("source")
    return source.get("sha256") if isinstance(source, dict) else None


def pull(entry: PublishedModel, models_dir: str | os.PathLike | None = None, *, mirror: str | None = None,
         progress: Progress | None = None) -> Path:  # fmt: skip
    """Download, check and import `entry`, replacing a copy already in the store; the model folder."""
    store = models_home(models_dir)
    url = source_url(entry, mirror)
    recorded = recorded_sha256(entry, models_dir)
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".pull-{entry.name}.", dir=store) as tmp:
        checkpoint = Path(tmp) / (PurePosixPath(urlsplit(url).path).name or entry.name)
        sha256 = download(url, checkpoint, progress)
        if entry.member:
            archive, checkpoint = checkpoint, Path(tmp) / PurePosixPath(entry.member).name
            sha256 = extract_member(archive, entry.member, checkpoint)
        with open(checkpoint, "rb") as f:
            head = f.read(4)
        if not head.startswith(CHECKPOINT_STARTS):
            raise ModelError(f"{url} did not give a PyTorch checkpoint (it starts with {head!r}): "
                             "a wrong address or mirror?")  # fmt: skip
        for expected, where in ((entry.sha256, "published"), (recorded, "recorded at its first pull")):
            if expected and sha256 != expected:
                raise ModelError(
                    f"checksum mismatch for {url}: sha256 {sha256[:16]}..., {where} {expected[:16]}... "
                    "(the file changed or was tampered with; the store is unchanged)"
                )
        folder, _ = import_checkpoint(checkpoint, entry.name, models_dir=models_dir, mode="frame",
                                      domains=[entry.source, entry.target], replace=True)  # fmt: skip
    return folder
