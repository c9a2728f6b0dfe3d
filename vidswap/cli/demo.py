"""`vidswap demo`: the whole loop on built-in photos, with a known answer, in minutes."""

from __future__ import annotations

import click

from vidswap.cli.app import App, pass_app


@click.command("demo")
@click.option(
    "-o",
    "--output",
    "out_dir",
    default="vidswap-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the results (a rerun replaces them).",
)
@click.option(
    "--minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=6.0,
    show_default=True,
    help="Training time budget (wall-clock).",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=10000,
    show_default=True,
    help="Training step budget (what stops training first on a fast GPU).",
)
@click.option(
    "--method",
    type=click.Choice(("cyclegan", "fastcut", "cut")),
    default="cyclegan",
    show_default=True,
    help="Training method.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the photo crops and the training (another seed: another run of the same demo).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any training setting, e.g. net.ngf=32 (see `vidswap train`).",
)
@pass_app
def command(
    app: App, out_dir: str, minutes: float, steps: int, method: str, seed: int, overrides: tuple[str, ...]
) -> None:
    """Train a small translator on photos that ship with the installed packages and apply it to a clip.

    Domain B is a known transform (a sepia grade) of photos like domain A's, in two
    unpaired collections; the translator is applied to a held-out clip with audio and
    judged against the true transform. Writes the translated clip, a side-by-side
    preview, a contact sheet and a report into OUTPUT. No downloads.
    """
    from vidswap.demo import DemoOptions, run_demo  # torch: not for --help

    app.info(f"vidswap demo: {method}, up to {minutes:g} min / {steps} steps of training; results in {out_dir}")
    options = DemoOptions(minutes=minutes, max_steps=steps, method=method, overrides=list(overrides), seed=seed)
    report = run_demo(
        out_dir,
        options,
        on_stage=lambda name: app.info(f"- {name}"),
        on_step=lambda done, total: app.debug(f"  step {done} of at most {total}"),
    )
    w, wu, hf = report.warping_error, report.warping_error_unsmoothed, report.high_frequency
    app.out.print(
        f"PSNR against the true transform: translation {report.psnr_translation:.2f} dB, "
        f"untranslated input {report.psnr_input:.2f} dB ({report.gain_db:+.2f} dB) after {report.steps} steps\n"
        f"warping error: output {w['output']}, input {w['input']} (ratio {w['ratio']}; "
        f"{wu['ratio']} with --smooth none)\n"
        f"energy above half Nyquist: output / true transform {hf['ratio']} (a grid: above 1; "
        f"{hf['unsmoothed_ratio']} with --smooth none)\n"
        f"total {report.seconds['total']:.0f} s (training {report.seconds['training']:.0f} s)",
        highlight=False,
    )
    for label, key in (("translated video", "translated"), ("side-by-side preview", "preview"),
                       ("contact sheet", "contact_sheet"), ("report", "report_md"), ("model", "model"),
                       ("input clip", "input")):  # fmt: skip
        app.out.print(f"{label + ':':22} {report.files[key]}", highlight=False)
