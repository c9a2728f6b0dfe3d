"""`vidswap batch LIBRARY -o OUT --model NAME`: convert a folder tree of videos and images,
resumably, with local worker processes or on a Ray cluster; `--dry-run` shows what it would do;
`vidswap batch --status OUT` shows the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from vidswap.cli.app import App, pass_app
from vidswap.cli.options import settings_from, translation_options, warn_shadowed_alias
from vidswap.cli.progress import make_progress
from vidswap.cli.stops import explained
from vidswap.errors import VidswapError
from vidswap.pipeline.manifest import MANIFEST_NAME, Manifest
from vidswap.settings import VideoSettings


def status_option(ctx: click.Context, param: click.Parameter, value) -> None:
    """--status and --json are both eager (a status needs no LIBRARY or --model): whichever
    comes second shows the status, if asked for, and exits."""
    ctx.meta[f"batch.{param.name}"] = value
    out_dir, as_json = ctx.meta.get("batch.status"), ctx.meta.get("batch.as_json")
    if out_dir is None or as_json is None or ctx.resilient_parsing:
        return
    show_status(ctx.ensure_object(App), out_dir, as_json)
    ctx.exit(0)


def json_option(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    status_option(ctx, param, value)
    return value


def show_status(app: App, out_dir: str, as_json: bool) -> None:
    """--status OUT: print the manifest's table (or JSON); exit 1 if any file failed."""
    with Manifest(out_dir, lock=False, create=False) as manifest:
        entries = manifest.entries()
    if as_json:
        app.out.print_json(json.dumps(file_records(out_dir)))
    else:
        table = Table("file", "state", "attempts", "frames", "size", "output / error", box=None)
        styles = {"done": "green", "failed": "red", "running": "yellow"}
        for e in entries:
            detail = e.error if e.state == "failed" else e.output
            size = f"{e.size / 1e6:.2f} MB" if e.size is not None and e.state == "done" else ""
            table.add_row(e.source, f"[{styles.get(e.state, '')}]{e.state}[/]", str(e.attempts),
                          str(e.frames or "") if e.state == "done" else "", size, detail)  # fmt: skip
        app.out.print(table)
    counts = {state: sum(e.state == state for e in entries) for state in ("done", "failed", "running", "pending")}
    app.err.print(", ".join(f"{n} {state}" for state, n in counts.items()), highlight=False)
    if counts["failed"]:
        raise VidswapError(f"{counts['failed']} file(s) failed")


def file_records(out_dir: str, report=None) -> list[dict]:
    """Every file of OUT's manifest as a JSON record (`--json`); with a run's BatchReport,
    whether this run converted it and its warnings."""
    with Manifest(out_dir, lock=False, create=False) as manifest:
        entries = manifest.entries()
    converted = set(report.converted) if report else set()
    warnings = report.warnings if report else {}
    return [
        {
            "source": e.source,
            "output": str(Path(out_dir) / e.output),
            "state": e.state,
            "frames": e.frames,
            "seconds": e.seconds,
            "fps": e.frames / e.seconds if e.frames and e.seconds else None,
            "size": e.size,
            "attempts": e.attempts,
            "error": e.error,
            "converted_now": e.source in converted,
            "warnings": warnings.get(e.source, []),
        }  # fmt: skip
        for e in entries
    ]


def failed_error(records: list[dict], out_dir: str) -> VidswapError:
    failed = sum(r["state"] == "failed" for r in records)
    return VidswapError(f"{failed} file(s) failed (vidswap batch --status {out_dir} lists them)")


def run_with_bars(app: App, library: str, out_dir: str, settings, video: VideoSettings, **options):
    """Run a batch with the progress bars and print its summary; returns the BatchReport."""
    from vidswap.api import batch  # loads torch and PyAV: not for --help

    progress = make_progress(app)
    bars = Bars(app, progress)
    try:
        with explained(lambda: stop_line(out_dir, len(bars.unfinished))):
            report = batch(library, out_dir, translator=settings, video=video, observer=bars, **options)
    finally:
        if progress.live.is_started:  # stopping bars never started prints an empty line before the error
            progress.stop()
    fps = report.frames / report.seconds if report.seconds else 0.0
    app.info(f"{len(report.converted)} converted ({report.frames} frames, {fps:.1f} frames/s), "
             f"{report.skipped} already done, {len(report.failed)} failed, of {report.total} in {out_dir}")  # fmt: skip
    for key, error in report.failed.items():
        app.err.print(f"[red]failed:[/] {key}: {error}", highlight=False)
    return report


def stop_line(out_dir: str, stopped: int) -> str:
    """What a batch stopped by a signal kept (`stopped`: files it was converting)."""
    if not (Path(out_dir) / MANIFEST_NAME).is_file():
        return f"nothing was converted; {out_dir} has no manifest yet"
    with Manifest(out_dir, lock=False, create=False) as manifest:
        entries = manifest.entries()
    done = sum(e.state == "done" for e in entries)
    return (f"kept {done} of {len(entries)} file(s) done in {out_dir} and its manifest: rerun the same "
            f"command to resume; removed the partial output of the {stopped} file(s) being converted")  # fmt: skip


def show_plan(app: App, decisions, as_json: bool) -> None:
    """--dry-run: what a run would convert, retry or skip, and why."""
    if as_json:
        app.out.print_json(json.dumps([{k: getattr(d, k) for k in ("source", "output", "action", "why", "state")}
                                       for d in decisions]))  # fmt: skip
    else:
        table = Table("file", "would", "why", "output", box=None)
        styles = {"convert": "green", "retry": "yellow", "skip": "dim"}
        for d in decisions:
            table.add_row(d.source, f"[{styles[d.action]}]{d.action}[/]", d.why, d.output)
        app.out.print(table)
    counts = {action: sum(d.action == action for d in decisions) for action in ("convert", "retry", "skip")}
    app.err.print("dry run, nothing changed: would " + ", ".join(f"{a} {n}" for a, n in counts.items()),
                  highlight=False)  # fmt: skip


@click.command()
@click.argument("library", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Output folder: the library's tree is mirrored here, with the manifest (a path every Ray node sees).",
)
@translation_options
@click.option(
    "--glob",
    "globs",
    multiple=True,
    metavar="PATTERN",
    help="Only files matching (path in the library or name; repeatable) [default: video and image extensions].",
)
@click.option("--exclude", "excludes", multiple=True, metavar="PATTERN", help="Leave out files matching (repeatable).")
@click.option(
    "--workers",
    type=click.IntRange(1),
    help="Local worker processes [default: 1]; with --ray, tasks at once [default: the cluster's GPUs, else CPUs].",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[ADDRESS]",
    help="Run each file as a Ray task: on a new local cluster, or the one at ADDRESS ('auto': this machine's).",
)
@click.option(
    "--retries",
    default=1,
    show_default=True,
    type=click.IntRange(0),
    help="Attempts after a failure that may pass (a damaged input is not retried).",
)
@click.option(
    "--dry-run", is_flag=True, help="Print what would be converted, retried or skipped, and why; change nothing."
)
@click.option(
    "--status",
    type=click.Path(file_okay=False),
    expose_value=False,
    is_eager=True,
    callback=status_option,
    metavar="OUT",
    help="Print the manifest of OUT and exit (exit code 1 if any file failed).",
)
@click.option("--json", "as_json", is_flag=True, is_eager=True, callback=json_option,
              help="Print the files (run, --status or --dry-run) as JSON on stdout.")  # fmt: skip
@pass_app
def command(app: App, library: str, out_dir: str, globs: tuple[str, ...], excludes: tuple[str, ...],
            workers: int | None, ray_address: str | None, retries: int, dry_run: bool, as_json: bool,
            **params) -> None:  # fmt: skip
    """Convert every video and image under LIBRARY into the same tree under OUT. Reruns skip
    what is done (output verified by size and checksum), retry what failed and finish what a
    killed run left; the exit code is 1 if any file failed."""
    settings, encode = settings_from(params)
    video = VideoSettings(encode)
    warn_shadowed_alias(app, settings)
    if dry_run:
        from vidswap.api import batch_plan  # loads torch and PyAV: not for --help

        decisions = batch_plan(library, out_dir, translator=settings, video=video, glob=globs, exclude=excludes,
                               retries=retries)  # fmt: skip
        return show_plan(app, decisions, as_json)
    report = run_with_bars(app, library, out_dir, settings, video, glob=globs, exclude=excludes, workers=workers,
                           ray=True if ray_address == "" else ray_address, retries=retries)  # fmt: skip
    if as_json:
        app.out.print_json(json.dumps(file_records(out_dir, report)))
    if not report.ok:
        raise VidswapError(f"{len(report.failed)} file(s) failed (vidswap batch --status {out_dir} lists them)")


class Bars:
    """The batch's progress: one overall bar (files in its label, frames in its count) and
    a line a busy worker with the file it is on."""

    def __init__(self, app: App, progress):
        self.app, self.progress = app, progress
        self.overall = progress.add_task("batch", total=None)
        self.lines: dict[str, int] = {}  # worker -> task id
        self.counted: dict[str, tuple[int, int]] = {}  # worker -> (frames total, frames counted) of its file
        self.todo = self.done = self.failed = 0
        self.unfinished: list[str] = []  # files in progress when the run stopped early

    def planned(self, todo: int, skipped: int, failed: int) -> None:
        self.todo = todo
        if skipped or failed:
            self.app.info(f"{skipped} already done, {failed} failed before and not retried")
        if todo:  # the bars appear once the inputs and settings are checked and there is work
            self.progress.start()
        self._label()

    def started(self, worker: str, key: str, frames: int | None) -> None:
        self.lines[worker] = self.progress.add_task(f"  {worker} {key}", total=frames)
        self.counted[worker] = (frames or 0, 0)
        overall = self.progress.tasks[self.overall]
        self.progress.update(self.overall, total=(overall.total or 0) + (frames or 0))

    def progressed(self, worker: str, key: str, frames_done: int) -> None:
        self.progress.update(self.lines[worker], completed=frames_done)
        self._count(worker, frames_done)

    def finished(self, outcome, will_retry: bool) -> None:
        worker = outcome.worker
        total, _ = self.counted.get(worker, (0, 0))
        if outcome.ok:
            self.done += 1
            self._count(worker, outcome.frames)
            overall = self.progress.tasks[self.overall]
            self.progress.update(self.overall, total=(overall.total or 0) + outcome.frames - total)  # exact now
            for warning in outcome.warnings:
                self.app.warn(f"{outcome.key}: {warning}")
        else:
            self._count(worker, 0)  # its frames do not count
            overall = self.progress.tasks[self.overall]
            self.progress.update(self.overall, total=(overall.total or 0) - total)
            self.failed += not will_retry
            again = " (will retry)" if will_retry else ""
            self.app.err.print(f"[red]failed:[/] {outcome.key}: {outcome.error}{again}", highlight=False)
        self.counted.pop(worker, None)
        if worker in self.lines:  # a line a busy worker only
            self.progress.remove_task(self.lines.pop(worker))
        self._label()

    def stopped(self, keys: list[str]) -> None:
        self.unfinished = keys

    def _count(self, worker: str, frames: int) -> None:
        total, counted = self.counted.get(worker, (0, 0))
        self.progress.advance(self.overall, frames - counted)
        self.counted[worker] = (total, frames)

    def _label(self) -> None:
        failed = f", {self.failed} failed" if self.failed else ""
        self.progress.update(self.overall, description=f"{self.done}/{self.todo} files{failed}")
