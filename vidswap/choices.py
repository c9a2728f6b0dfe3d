"""Every list of choices that the CLI and the API offer, spelled once as a Literal type.

The CLI's `click.Choice` lists, the API's defaults and the validation messages derive
from these with `choices()`, so adding a choice is one edit here (plus the code that
implements it)."""

from __future__ import annotations

from typing import Literal, get_args

BackendName = Literal["auto", "torch", "compile", "onnx", "tensorrt"]
ApplyMode = Literal["auto", "face", "frame"]  # auto: what the model was trained on
DataMode = Literal["face", "frame"]
Smoothing = Literal["none", "flow", "auto"]  # auto: along the flow, on the whole frame or on the face crops
FaceSelection = Literal["largest", "all"]  # apply also takes a track number
FaceDetail = Literal["none", "restore"]  # restore: the frame's own detail finer than the model's crop, after pasting
Amp = Literal["auto", "bf16", "fp16", "off"]
GeneratorNorm = Literal["instance", "batch", "none", "instance_affine"]
DiscriminatorNorm = Literal["instance", "none"]
WeightInit = Literal["normal", "xavier"]
TemporalMode = Literal["transform", "flow"]  # the training regulariser's pairs: see trainer/temporal.py


def choices(kind) -> tuple[str, ...]:
    """The values of a Literal type, in their declared order."""
    return get_args(kind)
