"""`vidswap doctor`: what this machine can do for vidswap (GPU, CUDA, backends, encoders), and why not."""

from __future__ import annotations

import json

import click

from vidswap.cli.app import App, pass_app


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_app
def command(app: App, as_json: bool) -> None:
    """Check Python, torch, CUDA and the GPUs, TensorRT, ONNX Runtime, decord, Ray and the video encoders."""
    from rich.table import Table

    from vidswap.diagnostics import advice, gather

    facts = gather()
    if as_json:
        app.out.print_json(json.dumps(facts.to_dict()))
        return
    table = Table(title="vidswap doctor", title_justify="left", show_header=False)
    table.add_column("")
    table.add_column("")
    for name, value in _rows(facts):
        table.add_row(name, value)
    app.out.print(table)
    for line in advice(facts):
        app.out.print(f"- {line}", highlight=False)


def _rows(facts) -> list[tuple[str, str]]:
    missing = "[dim]not installed[/]"
    torch = f"{facts.torch}, built for CUDA {facts.torch_cuda}" if facts.torch_cuda else f"{facts.torch}, CPU only"
    rows = [
        ("Python", facts.python),
        ("platform", facts.platform),
        ("torch", torch if facts.torch else f"[red]not importable[/] ({facts.cuda_error})"),
        ("NVIDIA driver", f"supports CUDA {facts.driver_cuda}" if facts.driver_cuda else "[yellow]none found[/]"),
    ]
    if not facts.gpus:
        rows.append(("GPU", f"[yellow]none[/]{f' ({facts.cuda_error})' if facts.cuda_error else ''}"))
    for gpu in facts.gpus:
        state = "[green]allocates[/]" if gpu.allocates else f"[red]cannot allocate[/] ({gpu.error})"
        bf16 = "bf16" if gpu.bf16 else "no bf16"
        rows.append((f"GPU {gpu.index}", f"{gpu.name}, {gpu.memory_gib} GiB, sm {gpu.capability}, {bf16}, {state}"))
    broken_tensorrt = f"[red]does not load[/] ({facts.tensorrt_error})" if facts.tensorrt_error else None
    tensorrt = facts.tensorrt or broken_tensorrt or missing
    onnxruntime = f"{facts.onnxruntime} ({', '.join(facts.onnxruntime_providers)})" if facts.onnxruntime else missing
    encoders = ", ".join(f"{e} (needs an NVIDIA GPU)" if "nvenc" in e else e for e in facts.encoders) or "none"
    rows += [
        ("TensorRT", tensorrt),
        ("ONNX Runtime", onnxruntime),
        ("decord", facts.decord or missing),
        ("Ray", facts.ray or missing),
        ("PyAV", f"{facts.pyav}, FFmpeg {facts.ffmpeg}" if facts.pyav else missing),
        ("video encoders", encoders),
    ]
    return rows
