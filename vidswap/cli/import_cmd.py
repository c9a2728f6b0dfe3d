"""`vidswap import CHECKPOINT --name NAME`: turn a ResNet generator checkpoint (CycleGAN, CUT
or a re-implementation of them) into a model in the store."""

from __future__ import annotations

import click

from vidswap.choices import DataMode, ImportedNorm, Padding, Resize, choices
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
@click.option("--padding", type=click.Choice(choices(Padding)), default="reflect", show_default=True,
              help="The residual blocks' padding (the weights cannot tell; the papers reflect).")  # fmt: skip
@click.option("--down-padding", type=click.Choice(choices(Padding)), default="zero", show_default=True,
              help="The 3x3 downsampling convolutions' padding (the reference code: zero).")  # fmt: skip
@click.option("--up-padding", type=click.Choice(choices(Padding)), default="zero", show_default=True,
              help="The padding of the convolution after each resize, for nn.Upsample decoders.")  # fmt: skip
@click.option(
    "--upsample",
    type=click.Choice(choices(Resize)),
    default="nearest",
    show_default=True,
    help="The resize before each upsampling convolution, for decoders of nn.Upsample and a convolution "
    "(bilinear_aligned: align_corners=True); transposed and CUT's blurred ones are read from the file.",
)
@click.option(
    "--norm",
    type=click.Choice(choices(ImportedNorm)),
    help="The norm, where its tensors are ambiguous [default: read from the file]; instance_running: "
    "instance norm using its saved statistics (track_running_stats=True).",
)
@models_dir_option
@pass_app
def command(app: App, checkpoint, name, mode, size, domains, network, replace, padding, down_padding, up_padding,
            upsample, norm, models_dir) -> None:  # fmt: skip
    """Import a ResNet generator (.pth state dict or .safetensors) trained with the CycleGAN or CUT
    code or a re-implementation: the architecture is read from the order and shapes of its tensors,
    whatever their names; the file is loaded without running code."""
    from vidswap.importer import import_checkpoint
    from vidswap.nets.resnet_layout import Hints, describe

    hints = Hints(padding, down_padding, up_padding, upsample, norm)
    folder, card = import_checkpoint(checkpoint, name, mode=mode, size=size, domains=domains, models_dir=models_dir,
                                     network=network, replace=replace, hints=hints)  # fmt: skip
    source = card.extra["source"]
    app.info(
        f"{source['file']} ({source['network']}, {source['project']} layout): "
        f"{describe(card.generators['AtoB']['kwargs'])}"
    )
    app.out.print(str(folder), highlight=False)
