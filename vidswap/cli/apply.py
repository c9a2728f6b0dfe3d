"""`vidswap apply INPUT --model NAME`: translate a video (keeping its timing and audio), an
image, or a folder of them. (Modules that load torch or PyAV are imported in the command's
body: `--help` stays fast.)"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import click

from vidswap.cli.app import App, pass_app
from vidswap.cli.options import TIME, settings_from, translation_options, warn_shadowed_alias
from vidswap.cli.progress import make_progress
from vidswap.cli.stops import explained
from vidswap.errors import ConfigError
from vidswap.settings import TranslatorSettings, VideoSettings


@click.command()
@click.argument("input", type=click.Path(path_type=str))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=str),
    help="Output file [default: INPUT.vidswap.EXT beside the input]; for a folder INPUT, the output folder.",
)
@translation_options
@click.option("--start", type=TIME, help="Convert from this time (seconds, or [HH:]MM:SS[.ms]; videos).")
@click.option("--end", type=TIME, help="Convert up to this time (seconds, or [HH:]MM:SS[.ms]; videos).")
@click.option("--preview", is_flag=True, help="Also write OUTPUT.preview: input | output side by side.")
@click.option("-y", "--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--json", "as_json", is_flag=True,
              help="Print what was written as JSON on stdout (an array for an image or a folder).")  # fmt: skip
@pass_app
def command(app: App, input: str, output: str | None, start: float | None, end: float | None, preview: bool,
            overwrite: bool, as_json: bool, **params) -> None:  # fmt: skip
    """Translate INPUT with a model: a video (every frame's timestamp, the rotation and the
    audio kept), an image (JPEG, PNG, WebP: EXIF orientation applied, colour profile kept),
    or a folder of them (converted into the same tree under -o, resumably, like `vidswap batch`)."""
    from vidswap.pipeline.images import is_image  # Pillow, numpy: not for --help

    settings, encode = settings_from(params)
    video = VideoSettings(encode, start=start, end=end)
    warn_shadowed_alias(app, settings)
    if Path(input).is_dir():
        records = convert_folder(app, input, output, settings, video, preview)
    elif is_image(input):
        if start is not None or end is not None:
            raise ConfigError("--start and --end apply to videos, not to an image")
        records = [convert_file(app, input, output, settings, video, preview, overwrite)]
    else:
        records = convert_file(app, input, output, settings, video, preview, overwrite)
    if as_json:
        app.out.print_json(json.dumps(records))
    if isinstance(records, list) and any(r["state"] == "failed" for r in records):
        from vidswap.cli.batch import failed_error

        raise failed_error(records, output)


def convert_file(app: App, input: str, output: str | None, settings: TranslatorSettings, video: VideoSettings,
                 preview: bool, overwrite: bool) -> dict:  # fmt: skip
    """One video or image; returns its JSON record."""
    from vidswap.api import Translator, check_image_job, check_job
    from vidswap.pipeline.images import is_image
    from vidswap.video import open_source

    image = is_image(input)
    with contextlib.ExitStack() as stack:
        # a video is opened once for its facts, for the whole job (bad input: one line); an
        # image is read when it is converted. Both checked before any progress bar.
        source = None if image else stack.enter_context(open_source(input))
        output = check_image_job(input, output, overwrite) if image else check_job(source, output, video, overwrite)
        if preview:
            video.preview = str(output.with_name(f"{output.stem}.preview{output.suffix}"))
        translator = Translator(settings)
        app.debug(f"model {translator.model.card.name} ({translator.model.card.method}), mode {translator.mode}")
        app.info(scale_line(translator, None if image else source.info.main_video))
        # the face pass knows no frame count of its own: the header's (an estimate) sizes its bar
        expected = None if image or video.start is not None or video.end is not None \
            else source.info.main_video.frame_count  # fmt: skip
        written = f"{output} and its preview were" if preview else f"{output} was"
        stop_line = f"{written} not written (the partial file removed); the input is unchanged"
        told: list[str] = []  # warnings printed before the frames were translated
        with explained(lambda: stop_line), make_progress(app) as progress:
            faces = progress.add_task("finding faces", total=expected, visible=translator.mode == "face" and not image)
            task = progress.add_task(Path(input).name, total=None)
            result = translator.apply(
                source or input,
                output,
                video,
                overwrite=True,  # checked above
                on_start=lambda total: progress.update(task, total=total),
                on_frame=lambda _: progress.advance(task),
                on_plan_frame=lambda _: progress.advance(faces),
                on_warning=lambda note: (told.append(note), app.warn(note)),
            )
            progress.update(task, total=result.frames, completed=result.frames)
            progress.update(faces, total=result.frames, completed=result.frames)
    for warning in result.warnings:
        if warning not in told:
            app.warn(warning)
    copied = "" if image else f", {result.audio_streams} audio stream(s) copied"
    app.info(f"wrote {result.output} ({result.frames} frame(s), {result.fps:.1f} frames/s{copied})"
             + (f"; preview {video.preview}" if video.preview else ""))  # fmt: skip
    return {"source": input, "output": str(result.output), "state": "done", "frames": result.frames,
            "seconds": result.seconds, "fps": result.fps, "audio_streams": result.audio_streams,
            "warnings": result.warnings, "preview": video.preview}  # fmt: skip


def scale_line(translator, video) -> str:
    """The scale the model runs at, in words (stderr): a model at another scale than its
    authors' draws its strokes finer or coarser than they showed."""
    if translator.mode == "face":
        return f"translating faces at the model's size ({translator.model.card.size or 256} px crops)"
    what = f"{video.width}x{video.height} frames" if video else "the image"
    work = translator.work_size
    if work is None:
        return f"translating {what} at full size"
    if video and min(video.width, video.height) <= work:
        return f"translating {what} at full size (not above --work-size {work})"
    given = "--work-size" if translator.settings.work_size is not None else "the model's scale"
    return f"translating {what} with the shorter side at {work} px ({given}; --work-size full: at full size)"


def convert_folder(app: App, input: str, output: str | None, settings: TranslatorSettings, video: VideoSettings,
                   preview: bool) -> list[dict]:  # fmt: skip
    """Every image and video under INPUT into the same tree under OUTPUT: `vidswap batch`
    with one worker (its manifest makes reruns resume); returns a record a file."""
    from vidswap.cli.batch import file_records, run_with_bars

    if not output:
        raise ConfigError("a folder is converted into another folder: give it with -o OUT")
    if preview:
        raise ConfigError("--preview takes a single input file, not a folder")
    report = run_with_bars(app, input, output, settings, video)
    return file_records(output, report)
