"""`vidswap apply INPUT --model NAME`: translate a video, keeping its timing and audio.
(Modules that load torch or PyAV are imported in the command's body: `--help` stays fast.)"""

from __future__ import annotations

from pathlib import Path

import click

from vidswap.cli.app import App, pass_app
from vidswap.cli.options import TIME, settings_from, translation_options
from vidswap.cli.progress import make_progress
from vidswap.settings import VideoSettings


@click.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=str),
    help="Output video [default: INPUT.vidswap.mp4/.mkv beside the input].",
)
@translation_options
@click.option("--start", type=TIME, help="Convert from this time (seconds, or [HH:]MM:SS[.ms]).")
@click.option("--end", type=TIME, help="Convert up to this time (seconds, or [HH:]MM:SS[.ms]).")
@click.option("--preview", is_flag=True, help="Also write OUTPUT.preview: input | output side by side.")
@click.option("-y", "--overwrite", is_flag=True, help="Replace an existing output file.")
@pass_app
def command(app: App, input: str, output: str | None, start: float | None, end: float | None, preview: bool,
            overwrite: bool, **params) -> None:  # fmt: skip
    """Translate INPUT with a model, keeping every frame's timestamp, the rotation and the audio."""
    from vidswap.api import Translator, check_job
    from vidswap.video import open_source

    settings, encode = settings_from(params)
    video = VideoSettings(encode, start=start, end=end)
    with open_source(input) as source:  # opened once for its facts, for the whole job; bad input: one line
        output = check_job(source, output, video, overwrite)  # before any progress bar
        if preview:
            video.preview = str(output.with_name(f"{output.stem}.preview{output.suffix}"))
        translator = Translator(settings)
        app.debug(f"model {translator.model.card.name} ({translator.model.card.method}), mode {translator.mode}")
        # the face pass knows no frame count of its own: the header's (an estimate) sizes its bar
        expected = source.info.main_video.frame_count if start is None and end is None else None
        with make_progress(app) as progress:
            faces = progress.add_task("finding faces", total=expected, visible=translator.mode == "face")
            task = progress.add_task(Path(input).name, total=None)
            result = translator.apply(
                source,
                output,
                video,
                overwrite=True,  # checked above
                on_start=lambda total: progress.update(task, total=total),
                on_frame=lambda _: progress.advance(task),
                on_plan_frame=lambda _: progress.advance(faces),
            )
            progress.update(task, total=result.frames, completed=result.frames)
            progress.update(faces, total=result.frames, completed=result.frames)
    for warning in result.warnings:
        app.warn(warning)
    app.info(f"wrote {result.output} ({result.frames} frames, {result.fps:.1f} frames/s, "
             f"{result.audio_streams} audio stream(s) copied)"
             + (f"; preview {video.preview}" if video.preview else ""))  # fmt: skip
