"""`vidswap export --model NAME --format onnx|tensorrt`: write a model's inference
artefacts (ONNX file, TensorRT engine) into its folder, checked against torch.

A TensorRT engine takes batches of 1 to --batch images of sizes from --min-size to
--max-size (both default to --size); `vidswap apply` and `batch` load any engine of the
model whose range covers their frames instead of building one."""

from __future__ import annotations

import click

from vidswap.cli.app import App, pass_app
from vidswap.cli.options import models_dir_option


def _parse_size(value: str | None, option: str) -> tuple[int, int] | None:
    """'256' -> (256, 256); '720x1280' -> (720, 1280) (height x width)."""
    if value is None:
        return None
    try:
        parts = [int(p) for p in value.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 16:
        raise click.BadParameter(f"{value!r}: expected SIZE or HEIGHTxWIDTH, each at least 16", param_hint=option)
    return (parts[0], parts[-1])


@click.command()
@click.option("--model", "model_name", required=True, help="Model name in the store, or a model folder.")
@click.option("--format", "fmt", type=click.Choice(["onnx", "tensorrt"]), default="onnx", show_default=True)
@click.option("--fp16", is_flag=True, help="Half precision (tensorrt only).")
@click.option(
    "--size",
    "size_text",
    help="Frame size to export for and tune the engine for, SIZE or HEIGHTxWIDTH (default: the model's training size).",
)
@click.option("--min-size", "min_text", help="Smallest frame size the TensorRT engine takes (default: --size).")
@click.option("--max-size", "max_text", help="Largest frame size the TensorRT engine takes (default: --size).")
@click.option(
    "--batch",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Largest batch the TensorRT engine takes.",
)
@click.option("--generator", "generator_name", help="Which generator (default: the model's own default).")
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="GPU the TensorRT engine is built for (auto, cuda or cuda:N); ONNX files are checked on CPU.",
)
@models_dir_option
@pass_app
def command(
    app: App, model_name, fmt, fp16, size_text, min_text, max_text, batch, generator_name, device, models_dir
) -> None:
    """Export a model for the onnx or tensorrt backend, into the model's folder."""
    from vidswap.device import pick_device
    from vidswap.errors import ConfigError, ModelError
    from vidswap.models import load_model
    from vidswap.runtime import check_choice, create_backend, onnx_path

    model = load_model(model_name, models_dir)
    if model.folder is None:
        raise ModelError(f"{model_name!r} is built in: it has no folder to export into")
    generator_name = generator_name or model.card.default_generator
    if generator_name not in model.generators:
        raise ConfigError(
            f"model {model_name!r} has no generator {generator_name!r} (it has: {', '.join(model.generators)})"
        )
    size = _parse_size(size_text, "--size") or ((model.card.size, model.card.size) if model.card.size else (256, 256))
    low = _parse_size(min_text, "--min-size") or size
    high = _parse_size(max_text, "--max-size") or size
    if not (low[0] <= size[0] <= high[0] and low[1] <= size[1] <= high[1]):
        raise ConfigError(f"--min-size, --size and --max-size must grow in height and width: {low}, {size}, {high}")
    if fmt == "onnx" and (fp16 or min_text or max_text):
        raise ConfigError("--fp16, --min-size and --max-size apply to tensorrt engines; ONNX files are fp32, any size")
    device = pick_device(device)
    if fmt == "tensorrt":
        check_choice("tensorrt", device, fp16)  # TensorRT missing or no GPU: said before any work
    # creating the backend exports (and builds the engine) if needed and checks it against torch
    backend = create_backend(
        model.generators[generator_name],
        "onnx" if fmt == "onnx" else "tensorrt",
        device=device if fmt == "tensorrt" else "cpu",
        fp16=fp16,
        batch_sizes=(batch,),
        image_size=size,
        size_range=(low, high),
        model_folder=model.folder,
        generator_name=generator_name,
    )
    written = getattr(backend, "engine_file", None) or onnx_path(model.folder, generator_name)
    app.info(f"checked against torch: {backend.describe()} matches")
    app.out.print(str(written), highlight=False)
