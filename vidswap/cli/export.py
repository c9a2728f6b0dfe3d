"""`vidswap export --model NAME --format onnx|tensorrt`: write a model's inference
artefacts (ONNX file, TensorRT engine) into its folder, checked against torch."""

from __future__ import annotations

import click

from vidswap.cli.app import App, pass_app


def _parse_size(value: str | None) -> tuple[int, int] | None:
    """'256' -> (256, 256); '720x1280' -> (720, 1280) (height x width)."""
    if value is None:
        return None
    try:
        parts = [int(p) for p in value.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 16:
        raise click.BadParameter(f"{value!r}: expected SIZE or HEIGHTxWIDTH, each at least 16", param_hint="--size")
    return (parts[0], parts[-1])


@click.command()
@click.option("--model", "model_name", required=True, help="Model name in the store, or a model folder.")
@click.option("--format", "fmt", type=click.Choice(["onnx", "tensorrt"]), default="onnx", show_default=True)
@click.option("--fp16", is_flag=True, help="Half precision (tensorrt only).")
@click.option(
    "--size",
    "size_text",
    help="Frame size the engine is built for, SIZE or HEIGHTxWIDTH "
    "(default: the model's training size); TensorRT engines are built for one size.",
)
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
@click.option("--models-dir", envvar="VIDSWAP_MODELS_DIR", type=click.Path(file_okay=False), help="Model store.")
@pass_app
def command(app: App, model_name, fmt, fp16, size_text, batch, generator_name, device, models_dir) -> None:
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
    size = _parse_size(size_text) or ((model.card.size, model.card.size) if model.card.size else (256, 256))
    device = pick_device(device)
    if fmt == "tensorrt":
        check_choice("tensorrt", device, fp16)  # TensorRT missing or no GPU: said before any work
    if fp16 and fmt == "onnx":
        raise ConfigError("--fp16 applies to tensorrt engines; ONNX files are exported in fp32")
    # creating the backend exports (and builds the engine) if needed and checks it against torch
    backend = create_backend(
        model.generators[generator_name],
        "onnx" if fmt == "onnx" else "tensorrt",
        device=device if fmt == "tensorrt" else "cpu",
        fp16=fp16,
        batch_sizes=(batch,),
        image_size=size,
        model_folder=model.folder,
        generator_name=generator_name,
    )
    written = getattr(backend, "engine_file", None) or onnx_path(model.folder, generator_name)
    app.info(f"checked against torch: {backend.describe()} matches")
    app.out.print(str(written), highlight=False)
