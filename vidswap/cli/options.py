"""Click options shared by `apply` and `batch`, and their conversion to the API's
settings, declared once."""

from __future__ import annotations

from collections.abc import Callable

import click

from vidswap.choices import ApplyMode, BackendName, FaceDetail, HoldNorm, Smoothing, choices
from vidswap.cli.completion import complete_model
from vidswap.settings import EncodeOptions, FaceSettings, TranslatorSettings, parse_time, parse_work_size


class TimeParam(click.ParamType):
    name = "time"

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_time(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeParam()


class WorkSizeParam(click.ParamType):
    name = "work_size"

    def convert(self, value, param, ctx):
        try:
            return parse_work_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


# the model store: every command that reads or writes models takes it the same way
_MODELS_DIR = (
    ("--models-dir",),
    dict(
        type=click.Path(file_okay=False),
        help="Model store [default: $VIDSWAP_MODELS_DIR, else $VIDSWAP_HOME/models, "
        "else ${XDG_DATA_HOME:-~/.local/share}/vidswap/models].",
    ),
)
models_dir_option = click.option(*_MODELS_DIR[0], **_MODELS_DIR[1])

# (option declarations, keyword arguments); the parameter name is the settings field
_TRANSLATOR_OPTIONS: list[tuple[tuple[str, ...], dict]] = [
    (
        ("-m", "--model"),
        dict(
            required=True, shell_complete=complete_model, help="Model name in the store, a model folder, or 'identity'."
        ),
    ),  # fmt: skip
    _MODELS_DIR,
    (
        ("--mode",),
        dict(
            type=click.Choice(choices(ApplyMode)),
            default=TranslatorSettings.mode,
            show_default=True,
            help="Translate faces or whole frames (auto: what the model was trained on).",
        ),
    ),
    (
        ("--backend",),
        dict(
            type=click.Choice(choices(BackendName)),
            default=TranslatorSettings.backend,
            show_default=True,
            help="Inference backend (auto: TensorRT on a GPU when installed, ONNX Runtime on CPU, else torch).",
        ),
    ),
    (("--fp16",), dict(is_flag=True, help="Half precision (CUDA only).")),
    (("--batch",), dict(default=1, show_default=True, type=click.IntRange(1), help="Images per generator call.")),
    (("--device",), dict(default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")),
    (
        ("--tile",),
        dict(
            default=0,
            show_default=True,
            type=click.IntRange(0),
            help="Frame mode: translate frames larger than this in overlapping tiles (0: whole).",
        ),
    ),
    (
        ("--work-size",),
        dict(
            type=WorkSizeParam(),
            default=TranslatorSettings.work_size,
            metavar="N|full",
            help="Frame mode: translate with the frame's shorter side at N pixels (the scale the model works at) "
            "and bring the result back to the frame's size, edges kept sharp; full: at the frame's own size "
            "[default: the model's, e.g. 256 for published models].",
        ),
    ),
    (
        ("--smooth",),
        dict(
            type=click.Choice(choices(Smoothing)),
            default=TranslatorSettings.smooth,
            show_default=True,
            help="Temporal smoothing along the input's optical flow: auto smooths the whole frame in frame mode "
            "and the pasted faces in face mode; flow always smooths the whole frame.",
        ),
    ),
    (
        ("--smooth-strength",),
        dict(
            default=TranslatorSettings.smooth_strength,
            show_default=True,
            type=click.FloatRange(0, 1, max_open=True),
            help="Weight of the previous output, warped along the flow, where the input is steady "
            "(it falls where the input really changed).",
        ),
    ),
    (
        ("--hold-norm",),
        dict(
            type=click.Choice(choices(HoldNorm)),
            default=TranslatorSettings.hold_norm,
            show_default=True,
            help="Frame mode, instance-norm generators: normalise each frame with an average of its scene's "
            "statistics over about 100 frames, so a change in one place does not shift the whole picture; "
            "auto: where the backend can (torch; ONNX Runtime, the CPU default), on: also where auto would "
            "pick a backend that cannot (then torch).",
        ),
    ),
]
_FACE_OPTIONS: list[tuple[tuple[str, ...], dict]] = [
    (
        ("--faces", "select"),
        dict(default=FaceSettings.select, show_default=True, help="largest, all, or a track number."),
    ),
    (
        ("--min-face-prob", "min_prob"),
        dict(
            default=FaceSettings.min_prob,
            show_default=True,
            type=click.FloatRange(0, 1),
            help="Detector confidence a face needs.",
        ),
    ),
    (
        ("--min-face-size", "min_size"),
        dict(
            default=FaceSettings.min_size,
            show_default=True,
            type=click.IntRange(12),
            help="Smallest face side in pixels (larger is faster).",
        ),
    ),
    (
        ("--detect-every", "detect_every"),
        dict(
            default=FaceSettings.detect_every,
            show_default=True,
            type=click.IntRange(1),
            help="Search for faces every N frames (and at cuts, or when a face is lost); follow them in between.",
        ),
    ),
    (
        ("--full-detect", "full_detect"),
        dict(is_flag=True, help="Search every frame at full resolution (slow; the reference for --detect-every)."),
    ),
    (
        ("--face-steadiness", "min_cutoff"),
        dict(
            default=FaceSettings.min_cutoff,
            show_default=True,
            type=click.FloatRange(min=0.001),
            help="One-Euro min cutoff of the face track: lower is steadier.",
        ),
    ),
    (
        ("--face-hold", "hold"),
        dict(
            default=FaceSettings.hold,
            show_default=True,
            type=click.FloatRange(0, 0.5),
            help="Hold a still face's crop exactly still while it moves less than this share of its size (0: off).",
        ),
    ),
    (
        ("--mask-blur", "blur"),
        dict(
            default=FaceSettings.blur,
            show_default=True,
            type=click.FloatRange(0, 0.49),
            help="Width of the paste-back feather, a share of the crop side.",
        ),
    ),
    (
        ("--mask-erode", "erode"),
        dict(
            default=FaceSettings.erode,
            show_default=True,
            type=click.FloatRange(0, 0.49),
            help="Band at the crop edge left untouched, a share of the crop side.",
        ),
    ),
    (
        ("--color-match/--no-color-match", "color_match"),
        dict(default=FaceSettings.color_match, show_default=True, help="Match the face's colour to the frame (Lab)."),
    ),
    (
        ("--face-detail", "detail"),
        dict(
            default=FaceSettings.detail,
            show_default=True,
            type=click.Choice(choices(FaceDetail)),
            help="restore: after pasting, add back the input's own detail finer than the model's crop (for faces "
            "on screen much larger than the model's size).",
        ),
    ),
    (
        ("--keep-faceless", "keep_faceless"),
        dict(
            is_flag=True, help="Copy a clip with no face at all through unchanged (with a warning) instead of failing."
        ),
    ),
]
_ENCODE_OPTIONS: list[tuple[tuple[str, ...], dict]] = [
    (("--codec",), dict(default="libx264", show_default=True,
                        help="Video encoder (libx264, libx265, libvpx-vp9, ...).")),
    (("--crf",), dict(default=18, show_default=True, type=click.IntRange(0, 63),
                      help="Constant quality (lower is better).")),
    (("--preset",), dict(default="medium", show_default=True, help="Encoder speed preset.")),
    (("--pix-fmt",), dict(default=None, help="Pixel format [default: yuv420p, yuv444p for odd sizes].")),
    (("--audio/--no-audio",), dict(default=True, show_default=True,
                                   help="Copy the source's audio (--no-audio: video only).")),
]  # fmt: skip
_SECTIONS = (_TRANSLATOR_OPTIONS, _FACE_OPTIONS, _ENCODE_OPTIONS)


def translation_options(command: Callable) -> Callable:
    """Add the model, face and encoder options to a command."""
    for section in reversed(_SECTIONS):
        for declarations, kwargs in reversed(section):
            command = click.option(*declarations, **kwargs)(command)
    return command


def _names(section) -> list[str]:
    return [next((d for d in decl if not d.startswith("-")), None) or _flag_name(decl[-1]) for decl, _ in section]


def _flag_name(declaration: str) -> str:
    """'--color-match/--no-color-match' -> 'color_match'."""
    return declaration.split("/")[0].lstrip("-").replace("-", "_")


def warn_shadowed_alias(app, settings: TranslatorSettings) -> None:
    """A model stored as, say, van_gogh is used for --model van_gogh; say that this name is also
    the published style_vangogh's alias."""
    from vidswap.models import shadowed_alias  # torch: not for --help

    published = shadowed_alias(settings.model, settings.models_dir)
    if published:
        app.warn(f"--model {settings.model} is the model stored under that name, not the published {published} "
                 f"(whose alias it also is): --model {published} runs that one")  # fmt: skip


def settings_from(params: dict):
    """(TranslatorSettings, EncodeOptions) from the command's parameters."""
    face = FaceSettings(**{n: params[n] for n in _names(_FACE_OPTIONS)})
    translator = TranslatorSettings(**{n: params[n] for n in _names(_TRANSLATOR_OPTIONS)}, face=face)
    encode = EncodeOptions(**{n: params[n] for n in _names(_ENCODE_OPTIONS)})
    return translator, encode
