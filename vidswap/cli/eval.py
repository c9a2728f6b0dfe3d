"""`vidswap eval INPUT OUTPUT`: how much a translation flickers compared with its source
(warping error), and whether it kept the source's frames, timing, size and audio."""

from __future__ import annotations

import json
import math

import click
from rich.table import Table

from vidswap.cli.app import App, pass_app


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.argument("output_path", metavar="OUTPUT", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_app
def command(app: App, input_path: str, output_path: str, as_json: bool) -> None:
    """Warping error of OUTPUT and of INPUT (Lai et al. 2018) and frame, timestamp, size
    and audio checks between them. Lower warping error is steadier; a ratio near 1 means
    the translation flickers no more than its source."""
    from vidswap.metrics.compare import evaluate  # PyAV and OpenCV: not for --help

    report = evaluate(input_path, output_path)
    if as_json:
        app.out.print_json(json.dumps(report.to_dict()))
        return
    w = report.warping
    table = Table(title="warping error (lower is steadier)", title_justify="left")
    for col in ("output", "input", "ratio", "frame pairs"):
        table.add_column(col, justify="right")
    table.add_row(*(_num(v) for v in (w.output, w.input, w.ratio)), str(w.pairs))
    app.out.print(table)
    checks = Table(title="checks", title_justify="left")
    for col in ("check", "", "input", "output", "detail"):
        checks.add_column(col)
    for c in report.checks:
        checks.add_row(c.name, "[green]ok[/]" if c.ok else "[red]FAIL[/]", _text(c.input), _text(c.output), c.detail)
    app.out.print(checks)
    for warning in report.warnings:
        app.warn(warning)


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.5g}"  # NaN: nothing measured


def _text(value) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)
