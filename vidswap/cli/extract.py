"""`vidswap extract`: clips and photos -> a training set of aligned face crops or frames."""

from __future__ import annotations

import click
from rich.table import Table

from vidswap.choices import DataMode, FaceSelection, choices
from vidswap.cli.app import App, pass_app
from vidswap.cli.progress import make_progress
from vidswap.cli.stops import explained


@click.command(short_help="Extract aligned face crops (or frames) from clips and photos into a training set.")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "-o",
    "--output",
    "dataset",
    required=True,
    type=click.Path(path_type=str),
    help="Dataset folder (created; a rerun resumes).",
)
@click.option(
    "--mode",
    type=click.Choice(choices(DataMode)),
    default="face",
    show_default=True,
    help="Aligned face crops, or whole frames.",
)
@click.option("--size", type=int, default=256, show_default=True, help="Crop side in pixels (faces: 64-512).")
@click.option("--every", type=click.IntRange(min=1), help="Take every N-th frame of a clip.")
@click.option("--max-per-clip", type=click.IntRange(min=1), help="Take up to K frames of a clip, spread evenly.")
@click.option("--format", "image_format", type=click.Choice(["png", "jpg"]), default="png", show_default=True)
@click.option(
    "--faces",
    type=click.Choice(choices(FaceSelection)),
    default="largest",
    show_default=True,
    help="The main face (largest over the clip) or all faces.",
)
@click.option(
    "--margin",
    type=click.FloatRange(0, 2),
    default=None,
    help="Room around the face, as a fraction of the tight face crop.",
)
@click.option(
    "--min-prob", type=click.FloatRange(0, 1), default=0.9, show_default=True, help="Face detection threshold."
)
@click.option(
    "--min-face",
    type=click.IntRange(min=12),
    default=20,
    show_default=True,
    help="Ignore faces smaller than this (pixels); higher is faster.",
)
@click.option(
    "--fit",
    type=click.Choice(["crop", "pad"]),
    default="crop",
    show_default=True,
    help="Frame mode: centre-crop or pad to square.",
)
@click.option(
    "--min-change",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.01,
    show_default=True,
    help="Skip a crop differing from the last kept one by less (mean, 0-1).",
)
@click.option("--device", default="auto", show_default=True, help="Face detection device: auto, cpu, cuda or cuda:N.")
@pass_app
def command(app: App, sources: tuple[str, ...], dataset: str, device: str, **options) -> None:
    """Extract aligned face crops (or whole frames) from SOURCE videos, images and
    folders of them into DATASET: crops/, records.jsonl (one line a crop) and
    summary.json. Rerunning skips the sources already done."""
    from vidswap.extract import ExtractSettings, extract_dataset  # loads torch and PyAV: not for --help

    if options["margin"] is None:
        del options["margin"]  # the template's default
    settings = ExtractSettings(**options)
    view = _ProgressView(app)
    with explained(lambda: view.stop_line(dataset)), view:
        summary = extract_dataset(sources, dataset, progress=view.update, device=device, **vars(settings))
    for stats in summary.failed:
        app.warn(f"skipped {stats.error}")
    for stats in summary.sources:
        for warning in stats.warnings:
            app.warn(warning)
    _show_summary(app, summary)


class _ProgressView:
    """One bar over the frames of the file being read; the file count is in its label."""

    def __init__(self, app: App):
        self.progress = make_progress(app)
        self.task = None
        self.finished = 0  # sources done (this run or before)
        self.current = None  # the source being read

    def stop_line(self, dataset: str) -> str:
        """What a stop kept: the sources finished (a partial dataset a rerun completes)."""
        removed = f"; removed the partial crops of {self.current.name}" if self.current else ""
        return (f"kept {self.finished} finished source(s) in {dataset} (a partial dataset: rerun the same "
                f"command to complete it){removed}")  # fmt: skip

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def update(self, event) -> None:
        self.finished += event.finished
        self.current = None if event.finished else event.source
        label = f"{event.number}/{event.count} {event.source.name[:30]}"
        if self.task is None:
            self.task = self.progress.add_task(label, total=None)
        if event.finished:  # the estimate of a clip's length may have been off
            self.progress.update(self.task, description=label, completed=event.frames_done, total=event.frames_done)
        else:
            self.progress.update(self.task, description=label, completed=event.frames_done, total=event.frames_total)


def _show_summary(app: App, summary) -> None:
    done = [s for s in summary.sources if s.error is None]
    table = Table(title=f"dataset {summary.dataset}", title_justify="left")
    for column in (
        "clips",
        "images",
        "frames read",
        "faces found",
        "crops written",
        "duplicates",
        "clips with no face",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        str(sum(s.kind == "video" for s in done)),
        str(sum(s.kind == "image" for s in done)),
        str(summary.total("frames")),
        str(summary.total("faces")) if summary.settings.mode == "face" else "-",
        str(summary.total("crops")),
        str(summary.total("duplicates")),
        str(sum(s.kind == "video" for s in summary.no_face)) if summary.settings.mode == "face" else "-",
    )
    app.out.print(table)
    skipped = sum(s.skipped for s in summary.sources)
    if skipped:
        app.info(f"{skipped} source(s) were already done and skipped")
    for stats in summary.no_face:
        app.warn(f"no face found in {stats.source}")
