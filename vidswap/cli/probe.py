"""`vidswap probe FILE`: container, streams, rotation and timing of a media file."""

from __future__ import annotations

import json

import click

from vidswap.cli.app import App, pass_app


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--count", is_flag=True, help="Decode every frame to count them exactly.")
@pass_app
def command(app: App, file: str, as_json: bool, count: bool) -> None:
    """Show a video's container, streams, rotation, frame rate and audio."""
    from vidswap.video import probe

    info = probe(file, count=count)
    if as_json:
        app.out.print_json(json.dumps(info.to_dict()))
        return
    from rich.table import Table

    head = f"{info.path}  [dim]{info.container}, {_fmt(info.duration, 's')}, {info.size_bytes / 1e6:.1f} MB[/]"
    table = Table(title=head, title_justify="left", show_header=True)
    for col in ("stream", "codec", "size", "pix fmt", "rotation", "avg fps", "real fps", "VFR", "frames"):
        table.add_column(col)
    for v in info.video:
        frames = f"{v.frame_count}" + ("" if v.frame_count_exact or v.frame_count is None else " (header)")
        size = f"{v.width}x{v.height}" + (f" (stored {v.coded_width}x{v.coded_height})" if v.rotation % 180 else "")
        table.add_row(
            f"#{v.index} video", v.codec, size, v.pix_fmt, f"{v.rotation}°",
            _fmt(v.average_rate), _fmt(v.real_rate), "yes" if v.variable_rate else "no", frames,
        )  # fmt: skip
    for a in info.audio:
        table.add_row(f"#{a.index} audio", a.codec, f"{a.sample_rate} Hz", a.layout, "", "", "", "", f"{a.channels} ch")
    app.out.print(table)
    for warning in info.warnings:
        app.warn(warning)


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.3f}{unit}"
