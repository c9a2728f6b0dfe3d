"""`vidswap eval INPUT OUTPUT`: how much a translation flickers compared with its source
(warping error, overall and as a per-second flicker curve drawn to a PNG), and whether it
kept the source's frames, timing, size and audio. With --source-person and --target-person,
also whose face the output shows and how well it kept the input's motion (the faces-eval extra)."""

from __future__ import annotations

import json
import math
import os
from functools import partial
from pathlib import Path

import click
from rich.table import Table

from vidswap.choices import EvalRegion, FlowMethod, choices
from vidswap.cli.app import App, pass_app
from vidswap.cli.progress import make_progress
from vidswap.cli.stops import explained
from vidswap.errors import ConfigError, OutputError
from vidswap.fsutil import atomic_write_text


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.argument("output_path", metavar="OUTPUT", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--report", type=click.Path(dir_okay=False), help="Also write the JSON report to this file.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    help="Where to draw the flicker curve (PNG). Default: next to the --report file, else next to OUTPUT "
    "as OUTPUT_NAME.flicker.png.",
)
@click.option(
    "--flow",
    type=click.Choice(choices(FlowMethod)),
    default="dis",
    show_default=True,
    help="The optical flow the warping error follows. farneback: a second, independent method; DIS "
    "invents motion on flat surfaces that do not move, and scores a steady output there as flicker.",
)
@click.option(
    "--on",
    type=click.Choice(choices(EvalRegion)),
    default="frame",
    show_default=True,
    help="Where the warping error is judged. faces: only where face mode pastes a face (found in INPUT "
    "as `vidswap apply --mode face` finds it: the largest); all-faces: every face (as `apply --faces all`); "
    "a small face's flicker hardly shows in the whole frame's figure.",
)
@click.option(
    "--source-person",
    "source_person",
    multiple=True,
    type=click.Path(),
    help="Clips, photos or folders of the person in INPUT (repeatable). With --target-person: judge whose "
    "face OUTPUT shows (dlib face descriptors; needs the faces-eval extra).",
)
@click.option(
    "--target-person",
    "target_person",
    multiple=True,
    type=click.Path(),
    help="Clips, photos or folders of the person OUTPUT should show (repeatable).",
)
@click.option(
    "--faces",
    "face_samples",
    default=40,
    show_default=True,
    type=click.IntRange(1),
    help="Frames of OUTPUT to judge faces in.",
)
@click.option(
    "--person-faces",
    default=60,
    show_default=True,
    type=click.IntRange(1),
    help="Frames of each person's clips to describe them with.",
)
@pass_app
def command(
    app: App,
    input_path: str,
    output_path: str,
    as_json: bool,
    report: str | None,
    plot: str | None,
    flow: str,
    on: str,
    source_person: tuple[str, ...],
    target_person: tuple[str, ...],
    face_samples: int,
    person_faces: int,
) -> None:
    """Warping error of OUTPUT and of INPUT (Lai et al. 2018) and frame, timestamp, size
    and audio checks between them. Lower warping error is steadier; a ratio near 1 means
    the translation flickers no more than its source. The flicker curve (warping error
    second by second, output against input) shows where the video shimmers. --on faces
    judges only the faces face mode pastes.

    With --source-person and --target-person: the share of OUTPUT's faces taken for the
    target person (nearer its mean face descriptor than the source person's), and how far
    head yaw, pitch, roll, mouth and eye opening moved from INPUT's face in each frame."""
    from vidswap.metrics.compare import evaluate  # PyAV and OpenCV: not for --help
    from vidswap.metrics.plot import plot_flicker
    from vidswap.video import probe

    if bool(source_person) != bool(target_person):
        raise ConfigError("--source-person and --target-person go together: give both")
    if plot is None:
        plot = Path(report).with_suffix(".png") if report else Path(output_path).with_suffix(".flicker.png")
    for path, suffix in ((plot, ".png"), (report, ".json")):
        if path is not None:
            _check_writable(Path(path), suffix)  # before the work, not after
    identity = None
    with explained(lambda: "nothing was written (the report and the flicker plot come once both files are read)"):
        if source_person or on != "frame":  # a missing or unreadable file: said before the long face passes
            for path in (input_path, output_path):
                probe(path, rates=False)
        if source_person:
            identity = _judge_identity(
                input_path, output_path, source_person, target_person, face_samples, person_faces
            )
        if on != "frame":
            from vidswap.pipeline.faces import face_regions  # MTCNN (torch): only when asked for

            with make_progress(app) as progress:
                faces = progress.add_task("finding faces", total=None)
                select = "all" if on == "all-faces" else "largest"
                regions = partial(face_regions, select=select, on_frame=lambda _: progress.advance(faces))
                result = evaluate(input_path, output_path, flow, regions, on)
        else:
            result = evaluate(input_path, output_path, flow)
    where = {"frame": "", "faces": " on the face", "all-faces": " on the faces"}[on]
    title = f"flicker of {Path(output_path).name}: warping error{where} per second ({flow} flow)"
    plot_flicker(result.flicker, plot, title=title)
    data = {**result.to_dict(), "flicker_plot": str(plot)}
    if identity is not None:
        data["identity"] = identity.to_dict()
    if report:
        atomic_write_text(report, json.dumps(data, indent=2) + "\n")
    if as_json:
        app.out.print_json(json.dumps(data))
        return
    w = result.warping
    table = Table(title=f"warping error{where} (lower is steadier; {flow} flow)", title_justify="left")
    for col in ("output", "input", "ratio", "frame pairs"):
        table.add_column(col, justify="right")
    table.add_row(*(_num(v) for v in (w.output, w.input, w.ratio)), str(w.pairs))
    app.out.print(table)
    if result.flicker:
        worst = max(result.flicker, key=lambda p: -1 if math.isnan(p.ratio) else p.ratio)
        app.out.print(
            f"flicker curve: {plot} (most flicker in second {worst.start:g}-{worst.start + 1:g}: "
            f"ratio {_num(worst.ratio)})",
            highlight=False,
        )
    else:
        app.out.print(f"flicker curve: {plot} (empty: no frame pairs could be measured)", highlight=False)
    checks = Table(title="checks", title_justify="left")
    for col in ("check", "", "input", "output", "detail"):
        checks.add_column(col)
    for c in result.checks:
        checks.add_row(c.name, "[green]ok[/]" if c.ok else "[red]FAIL[/]", _text(c.input), _text(c.output), c.detail)
    app.out.print(checks)
    if identity is not None:
        app.out.print(_identity_table(identity))
    for warning in result.warnings:
        app.warn(warning)


def _judge_identity(input_path, output_path, source_person, target_person, samples, person_samples):
    from vidswap.extract import find_sources
    from vidswap.metrics.identity import FaceJudge, describe_person, judge_identity, sample_images

    judge = FaceJudge()  # first: a missing extra is reported before any work
    source = describe_person(judge, sample_images(find_sources(source_person), person_samples), "--source-person")
    target = describe_person(judge, sample_images(find_sources(target_person), person_samples), "--target-person")
    return judge_identity(judge, input_path, output_path, source, target, samples)


def _identity_table(identity) -> Table:
    table = Table(
        title=f"whose face (faces in {identity.faces} of {identity.frames} frames judged; "
        f"0.6 apart = different people)",
        title_justify="left",
    )
    for col in ("", "target share", "within 0.6 of target", "distance to target", "distance to source"):
        table.add_column(col, justify="right")
    table.add_row("output", _num(identity.target_share), _num(identity.target_match), _num(identity.target_distance),
                  _num(identity.source_distance))  # fmt: skip
    table.add_row(
        "input", _num(identity.input_target_share), "", _num(identity.input_target_distance),
        _num(identity.input_source_distance),
    )  # fmt: skip
    table.add_row(
        "input, as soft as the output", _num(identity.blurred_input_target_share),
        _num(identity.blurred_input_target_match), _num(identity.blurred_input_target_distance),
        _num(identity.blurred_input_source_distance),
    )  # fmt: skip
    motion = identity.motion
    table.caption = (
        f"motion kept (mean |output - input|): yaw {_num(motion.get('yaw', math.nan))}, pitch "
        f"{_num(motion.get('pitch', math.nan))}, roll {_num(motion.get('roll', math.nan))} degrees (of which the "
        f"same in every frame: {_turn(identity.pose_offset)}; the input as soft as the output is off by "
        f"{_num(identity.blurred_input_pose_error)} on average); mouth "
        f"{_num(motion.get('mouth', math.nan))}, eyes {_num(motion.get('eyes', math.nan))}; face sharpness "
        f"(output / input high frequencies) {_num(identity.sharpness)}"
    )
    table.caption_justify = "left"
    return table


def _turn(offset: dict[str, float]) -> str:
    """'yaw +27.1, pitch +17.8, roll +3.9': the mean signed turn of the output's face."""
    return ", ".join(
        f"{k} {offset[k]:+.1f}" for k in ("yaw", "pitch", "roll") if math.isfinite(offset.get(k, math.nan))
    )


def _check_writable(path: Path, suffix: str) -> None:
    """One clear error for a file that cannot be written: a wrong type, a folder, or no
    writable folder above it (missing folders are made)."""
    if path.suffix.lower() != suffix:
        raise OutputError(f"{path}: must be a {suffix} file")
    if path.is_dir():
        raise OutputError(f"{path} is a folder")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: {folder} is not a writable folder")


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.5g}"  # NaN: nothing measured


def _text(value) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)
