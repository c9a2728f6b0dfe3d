"""`vidswap apply INPUT --model NAME`: translate a video, keeping its timing and audio."""

from __future__ import annotations

import click

from vidswap.cli.app import App, pass_app


@click.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Output video [default: INPUT.vidswap.mp4/.mkv beside the input].")
@click.option("-m", "--model", required=True, help="Model name in the store, a model folder, or 'identity'.")
@click.option("--models-dir", envvar="VIDSWAP_MODELS_DIR", type=click.Path(file_okay=False),
              help="Model store to look in [default: $VIDSWAP_HOME/models or ~/.local/share/vidswap/models].")
@click.option("--codec", default="libx264", show_default=True, help="Video encoder (libx264, libx265, libvpx-vp9, ...).")
@click.option("--crf", default=18, show_default=True, type=click.IntRange(0, 63), help="Constant quality (lower is better).")
@click.option("--preset", default="medium", show_default=True, help="Encoder speed preset.")
@click.option("--pix-fmt", default=None, help="Pixel format [default: yuv420p, yuv444p for odd sizes].")
@click.option("--start", type=click.FloatRange(min=0), help="Convert from this time (seconds).")
@click.option("--end", type=click.FloatRange(min=0), help="Convert up to this time (seconds).")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(1), help="Frames per generator call.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("-y", "--overwrite", is_flag=True, help="Replace an existing output file.")
@pass_app
def command(app: App, input: str, output: str | None, model: str, models_dir: str | None, codec: str, crf: int,
            preset: str, pix_fmt: str | None, start: float | None, end: float | None, batch: int, device: str,
            overwrite: bool) -> None:  # fmt: skip
    """Translate INPUT with a model, keeping every frame's timestamp, the rotation and the audio."""
    from pathlib import Path

    from vidswap.api import Translator, TranslatorSettings, VideoSettings, check_job
    from vidswap.cli.progress import make_progress
    from vidswap.pipeline.apply import EncodeOptions

    video = VideoSettings(EncodeOptions(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt), start=start, end=end)
    output = check_job(input, output, video, overwrite)  # bad input: one line, before any progress bar
    translator = Translator(TranslatorSettings(model=model, models_dir=models_dir, device=device, batch=batch))
    with make_progress(app) as progress:
        task = progress.add_task(Path(input).name, total=None)
        result = translator.apply(
            input,
            output,
            video,
            overwrite=True,  # checked above
            on_start=lambda total: progress.update(task, total=total),
            on_frame=lambda _: progress.advance(task),
        )
        progress.update(task, total=result.frames, completed=result.frames)
    for warning in result.warnings:
        app.warn(warning)
    app.info(f"wrote {result.output} ({result.frames} frames, {result.fps:.1f} frames/s, "
             f"{result.audio_streams} audio stream(s) copied)")  # fmt: skip
