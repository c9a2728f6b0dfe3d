"""`vidswap probe FILE`: container, streams, rotation and timing of a media file."""

from __future__ import annotations

import json

import click
from rich.table import Table

from vidswap.cli.app import App, pass_app


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--count", is_flag=True, help="Decode every frame to count them exactly.")
@pass_app
def command(app: App, file: str, as_json: bool, count: bool) -> None:
    """Show a video's container, streams, rotation, frame rate and audio."""
    from vidswap.video import count_frames, probe  # PyAV: not for --help

    info = probe(file)
    if count:
        count_frames(info)
    if as_json:
        app.out.print_json(json.dumps(info.to_dict()))
        return
    # one column a stream, one row a property: narrow enough for any terminal
    head = f"{info.path}  [dim]{info.container}, {_fmt(info.duration, ' s')}, {info.size_bytes / 1e6:.1f} MB[/]"
    table = Table(title=head, title_justify="left")
    table.add_column("")
    rows: dict[str, list[str]] = {}
    streams = [(f"#{v.index} video", _video_rows(v)) for v in info.video]
    streams += [(f"#{a.index} audio", _audio_rows(a)) for a in info.audio]
    for column, (name, values) in enumerate(streams):
        table.add_column(name)
        for key, value in values.items():
            rows.setdefault(key, [""] * len(streams))[column] = value
    for key, values in rows.items():
        table.add_row(key, *values)
    app.out.print(table)
    for warning in info.warnings:
        app.warn(warning)


def _video_rows(v) -> dict[str, str]:
    frames = "-" if v.frame_count is None else f"{v.frame_count}" + ("" if v.frame_count_exact else " (header)")
    rows = {"codec": v.codec, "size": f"{v.width}x{v.height}"}
    if v.rotation % 180:
        rows["stored size"] = f"{v.coded_width}x{v.coded_height}"
    rows |= {
        "pixel format": v.pix_fmt,
        "rotation": f"{v.rotation}°",
        "average fps": _fmt(v.average_rate),
        "real fps": _fmt(v.real_rate),
        "variable rate": "yes" if v.variable_rate else "no",
        "frames": frames,
    }
    return rows


def _audio_rows(a) -> dict[str, str]:
    return {"codec": a.codec, "sample rate": f"{a.sample_rate} Hz", "channels": f"{a.channels} ({a.layout})"}


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.3f}{unit}"
