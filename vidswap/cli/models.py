"""`vidswap models`: list the model store."""

from __future__ import annotations

import click
from rich.table import Table

from vidswap.cli.app import App, pass_app


@click.command("models")
@click.option("--models-dir", envvar="VIDSWAP_MODELS_DIR", type=click.Path(file_okay=False),
              help="Model store (default $VIDSWAP_HOME/models or the per-user data folder).")
@pass_app
def command(app: App, models_dir):
    """List built-in models and the trained models in the store."""
    from vidswap.models import list_models, models_home  # torch: not for --help

    table = Table(title=f"models in {models_home(models_dir)}")
    for column in ("name", "method", "mode", "size", "domains", "steps", "created", "path"):
        table.add_column(column, justify="right" if column in ("size", "steps") else "left", no_wrap=column == "name")
    for folder, card in list_models(models_dir):
        table.add_row(
            card.name,
            card.method,
            card.mode,
            str(card.size or "any"),
            " -> ".join(card.domains) or "-",
            str(card.steps),
            card.created[:16].replace("T", " ") or "-",
            str(folder) if folder else "(built-in)",
        )
    app.out.print(table)
