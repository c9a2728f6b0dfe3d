"""Where models are stored, without loading torch: the store's folder and the model folders
in it (shell completion lists them on every Tab press; vidswap.models loads them)."""

from __future__ import annotations

import os
from pathlib import Path

CARD_FILE = "model.json"
BUILTIN_MODELS = ("identity",)


def chosen_store(models_dir: str | os.PathLike | None = None) -> str | None:
    """The store named by --models-dir (`models_dir`), else by $VIDSWAP_MODELS_DIR; None: the default."""
    return str(models_dir) if models_dir else os.environ.get("VIDSWAP_MODELS_DIR") or None


def models_home(models_dir: str | os.PathLike | None = None) -> Path:
    """The model store: --models-dir, else $VIDSWAP_MODELS_DIR, else $VIDSWAP_HOME/models, else the
    per-user data folder. Read here, so the CLI, the API, completion and batch workers agree."""
    if chosen := chosen_store(models_dir):
        return Path(chosen)
    home = os.environ.get("VIDSWAP_HOME")
    if home:
        return Path(home) / "models"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "vidswap" / "models"


def model_folders(models_dir: str | os.PathLike | None = None) -> list[Path]:
    """The model folders in the store (those with a card; hidden ones are partial writes), sorted."""
    home = models_home(models_dir)
    if not home.is_dir():
        return []
    return [card.parent for card in sorted(home.glob(f"*/{CARD_FILE}")) if not card.parent.name.startswith(".")]
