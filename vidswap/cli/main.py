"""The `vidswap` command group. Commands live one a module in vidswap/cli/ and are
imported only when invoked, so `vidswap --help` stays fast (no torch at start-up)."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import traceback

import click

from vidswap import __version__
from vidswap.cli.app import App
from vidswap.cli.stops import Stopped, signal_of, sigterm_raises
from vidswap.errors import VidswapError

# command name -> (module, one-line help shown by `vidswap --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "probe": ("vidswap.cli.probe", "Show a video's container, streams, rotation and timing."),
    "apply": ("vidswap.cli.apply", "Translate a video with a model, keeping timing and audio."),
    "extract": (
        "vidswap.cli.extract",
        "Extract aligned face crops (or frames) from clips and photos into a training set.",
    ),
    "train": ("vidswap.cli.train", "Train a CycleGAN, CUT, FastCUT or AC-GAN translator from unpaired collections."),
    "models": ("vidswap.cli.models", "List the models in the store."),
    "import": ("vidswap.cli.import_cmd", "Import a CycleGAN or CUT generator checkpoint as a model."),
    "export": ("vidswap.cli.export", "Export a model for the onnx or tensorrt backend."),
    "batch": ("vidswap.cli.batch", "Convert a folder tree of videos, resumably, with local workers or on Ray."),
    "eval": ("vidswap.cli.eval", "Temporal consistency and timing/audio checks of an output against its input."),
    "doctor": ("vidswap.cli.doctor", "What this machine can do: GPU, CUDA, torch, TensorRT, ONNX Runtime, encoders."),
    "demo": (
        "vidswap.cli.demo",
        "Train on built-in photos and translate a clip, judged against a known answer, in minutes.",
    ),
}

# a stop outside a command's own account (vidswap.cli.stops.explained)
UNFINISHED = "it had not finished; nothing half-written is left (outputs appear only when complete)"


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, short_help = COMMANDS[name]
        command = importlib.import_module(module).command
        command.short_help = command.short_help or short_help
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # list commands from the table, without importing their modules
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="vidswap")
@click.option("-v", "--verbose", count=True, help="More detail; -v also shows tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and results.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Translate video between visual domains with unpaired GANs."""
    ctx.obj = App(verbosity=-1 if quiet else verbose)
    logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args)
    try:
        with sigterm_raises():
            cli.main(args=args, prog_name="vidswap", standalone_mode=False)
    except Stopped as exc:  # a command's own line: what it kept, what it removed
        _stop(exc.signum, exc.kept)
    except click.exceptions.Abort as exc:  # click's wrapping of a KeyboardInterrupt
        _stop(signal_of(exc.__cause__ or exc), UNFINISHED)
    except KeyboardInterrupt as exc:
        _stop(signal_of(exc), UNFINISHED)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "vidswap"
        _fail(f"{exc.format_message()} (see '{command} --help')", exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except VidswapError as exc:
        if verbose:
            traceback.print_exc()
        _fail(str(exc), exc.exit_code)
    except OSError as exc:  # full disk, permissions, ...
        if verbose:
            traceback.print_exc()
        _fail(f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}", 6)
    except Exception as exc:  # a bug: still one line unless -v
        if verbose:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (run with -v for the traceback)", 70)


def _stop(signum: int, kept: str) -> None:
    click.echo(f"vidswap: stopped by {signal.Signals(signum).name}: {kept}", err=True)
    sys.exit(128 + signum)


def _fail(message: str, code: int) -> None:
    click.echo(f"vidswap: error: {message}", err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
