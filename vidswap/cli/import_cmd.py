"""`vidswap import CHECKPOINT --name NAME`: turn a CycleGAN or CUT generator checkpoint
into a model in the store."""

from __future__ import annotations

import click

from vidswap.choices import DataMode, choices
from vidswap.cli.app import App, pass_app
from vidswap.cli.options import models_dir_option


def _parse_domains(ctx, param, value: str | None) -> list[str]:
    if value is None:
        return []
    names = [part.strip() for part in value.split(",")]
    if len(names) != 2 or not all(names):
        raise click.BadParameter(f"{value!r}: expected two names, source and target, such as 'photo,van gogh'")
    return names


@click.command("import")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="Name of the new model in the store.")
@click.option(
    "--mode",
    type=click.Choice(choices(DataMode)),
    default="frame",
    show_default=True,
    help="What the model translates: whole frames, or aligned face crops.",
)
@click.option(
    "--size",
    type=click.IntRange(16, 2048),
    default=None,
    help="Training crop size [default: any size for frame models, 256 for face models].",
)
@click.option("--domains", callback=_parse_domains, help="Source and target domain, e.g. 'photo,van gogh'.")
@click.option("--network", help="Which network of a checkpoint that holds several (default: the A->B generator).")
@click.option("--replace", is_flag=True, help="Replace a model of that name in the store.")
@models_dir_option
@pass_app
def command(app: App, checkpoint, name, mode, size, domains, network, replace, models_dir) -> None:
    """Import a ResNet generator trained with the CycleGAN or CUT code (.pth state dict or
    .safetensors): the architecture is read from the file, which is loaded without running code."""
    from vidswap.importer import describe, import_checkpoint

    folder, card = import_checkpoint(checkpoint, name, mode=mode, size=size, domains=domains,
                                     models_dir=models_dir, network=network, replace=replace)  # fmt: skip
    source = card.extra["source"]
    app.info(
        f"{source['file']} ({source['network']}, {source['project']} layout): "
        f"{describe(card.generators['AtoB']['kwargs'])}"
    )
    app.out.print(str(folder), highlight=False)
