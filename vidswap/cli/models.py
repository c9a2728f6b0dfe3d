"""`vidswap models`: list the model store, list the published models (--available), and
`vidswap models pull NAME` to fetch one."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from rich.table import Table

from vidswap.cli.app import App, pass_app
from vidswap.cli.options import models_dir_option


@click.group("models", invoke_without_command=True)
@models_dir_option
@click.option("--available", is_flag=True, help="List the published models that `vidswap models pull` fetches.")
@click.option("--json", "as_json", is_flag=True, help="Print the listing as a JSON array on stdout.")
@click.pass_context
def command(ctx: click.Context, models_dir, available: bool, as_json: bool):
    """List built-in models and the trained models in the store; `pull` fetches a published one."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.ensure_object(App)
    if available:
        list_available(app, models_dir, as_json)
    else:
        list_store(app, models_dir, as_json)


def list_store(app: App, models_dir, as_json: bool = False) -> None:
    from vidswap.models import list_models, models_home  # torch: not for --help

    if as_json:  # the whole card of each model, and its folder (null: built in)
        models = [{**asdict(card), "path": str(folder) if folder else None} for folder, card in list_models(models_dir)]
        app.out.print_json(json.dumps(models))
        return
    table = Table(title=f"models in {models_home(models_dir)}")
    for column in ("name", "method", "mode", "size", "domains", "steps", "created", "path"):
        table.add_column(
            column, justify="right" if column in ("size", "steps") else "left", no_wrap=column in ("name", "steps")
        )
    for folder, card in list_models(models_dir):
        table.add_row(
            card.name,
            card.method,
            card.mode,
            str(card.size or "any"),
            " -> ".join(card.domains) or "-",
            f"partial {card.steps}/{card.total_steps}" if card.partial else str(card.steps),
            card.created[:16].replace("T", " ") or "-",
            str(folder) if folder else "(built-in)",
        )
    app.out.print(table)


def list_available(app: App, models_dir, as_json: bool = False) -> None:
    from vidswap.catalog import CATALOG, PROJECTS
    from vidswap.models import models_home

    pulled = stored_names(models_dir)
    if as_json:
        entries = [{**asdict(e), "project_title": PROJECTS[e.project].title, "pulled": e.name in pulled}
                   for e in CATALOG]  # fmt: skip
        app.out.print_json(json.dumps(entries))
        return
    table = Table(title="published models (vidswap models pull NAME)",
                  caption=f"pulled: already in {models_home(models_dir)}")  # fmt: skip
    for column in ("name", "project", "direction", "what it does", "aliases", "pulled"):
        table.add_column(column, no_wrap=column == "name")
    for entry in CATALOG:
        table.add_row(entry.name, PROJECTS[entry.project].title, entry.direction, entry.description,
                      ", ".join(entry.aliases), "yes" if entry.name in pulled else "")  # fmt: skip
    app.out.print(table)


def stored_names(models_dir) -> set[str]:
    from vidswap.models import list_models

    return {folder.name for folder, _ in list_models(models_dir) if folder is not None}


@command.command("pull")
@click.argument("name")
@models_dir_option
@click.option("--force", is_flag=True, help="Download again and replace the copy in the store.")
@click.option(
    "--mirror",
    envvar="VIDSWAP_MODEL_MIRROR",
    metavar="FOLDER|URL",
    help="Fetch from this folder or base URL (http, https or file) instead of the project's server; the "
    "paths below it are the official ones, e.g. URL/cyclegan/pretrained_models/style_vangogh.pth.",
)
@pass_app
def pull_command(app: App, name: str, models_dir, force: bool, mirror: str | None):
    """Download the published model NAME (or an alias such as van_gogh), check it and store it."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from vidswap.catalog import find_published
    from vidswap.models import models_home
    from vidswap.pull import pull, source_url, stored_source

    models_dir = models_dir or click.get_current_context().parent.params["models_dir"]
    entry = find_published(name)
    stored = stored_source(entry, models_dir)
    imported = stored is not None and stored.get("published") != entry.name
    if stored is not None and not force:
        what = f"a model {entry.name} imported from {stored.get('file', 'a file')}" if imported else entry.name
        app.info(f"{what} is already in {models_home(models_dir)} (--force downloads the published one again"
                 + (" and replaces it)" if imported else ")"))  # fmt: skip
        return
    if imported:
        app.info(f"replacing the model {entry.name} imported from {stored.get('file', 'a file')}")
    app.info(f"pulling {entry.name} ({entry.direction}) from {source_url(entry, mirror)}")
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=app.err, disable=not app.show_progress) as progress:
        folder = pull(entry, models_dir, mirror=mirror, progress=progress, fresh=force)
    aliases = [alias for alias in entry.aliases if alias not in stored_names(models_dir)]  # a stored one wins
    app.info(f"stored {entry.name} in {folder}: vidswap apply VIDEO --model {entry.name}"
             + (f" (or --model {aliases[0]})" if aliases else ""))  # fmt: skip
