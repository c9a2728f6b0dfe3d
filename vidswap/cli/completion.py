"""Shell completion of model names (click's completion: `_VIDSWAP_COMPLETE=bash_source vidswap`,
see the README). Reads the store's folder names only: no torch, so Tab answers at once."""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

from vidswap.store import BUILTIN_MODELS, model_folders


def complete_model(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Built-in and stored model names starting with what was typed; a path completes as folders."""
    if "/" in incomplete or incomplete.startswith((".", "~")):
        return [CompletionItem(incomplete, type="dir")]
    names = [*BUILTIN_MODELS, *(folder.name for folder in model_folders(ctx.params.get("models_dir")))]
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]
