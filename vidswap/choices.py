"""Every list of choices that the CLI and the API offer, spelled once as a Literal type.

The CLI's `click.Choice` lists, the API's defaults and the validation messages derive
from these with `choices()`, so adding a choice is one edit here (plus the code that
implements it)."""

from __future__ import annotations

from typing import Literal, get_args

BackendName = Literal["auto", "torch", "compile", "onnx", "tensorrt"]
ApplyMode = Literal["auto", "face", "frame"]  # auto: what the model was trained on
DataMode = Literal["face", "frame"]
Smoothing = Literal["none", "flow", "auto"]  # auto: along the flow, on the whole frame or on the pasted faces
# instance-norm statistics held along a clip (frame mode); auto: where the backend can (torch)
HoldNorm = Literal["auto", "on", "off"]
FaceSelection = Literal["largest", "all"]  # apply also takes a track number
FaceDetail = Literal["none", "restore"]  # restore: the frame's own detail finer than the model's crop, after pasting
Amp = Literal["auto", "bf16", "fp16", "off"]
DistBackend = Literal["auto", "nccl", "gloo"]
GeneratorNorm = Literal["instance", "batch", "none", "instance_affine"]
# an imported generator's norm may also be instance norm using its saved statistics (track_running_stats)
ImportedNorm = Literal["instance", "batch", "none", "instance_affine", "instance_running"]
Padding = Literal["reflect", "zero", "replicate"]
# how a ResNet generator's decoder doubles the size: strided transposed convolutions, CUT's blur, or
# nn.Upsample (a Resize: bilinear_aligned is align_corners=True) then a convolution
Resize = Literal["nearest", "bilinear", "bilinear_aligned"]
Upsampling = Literal["transposed", "blur", Resize]
DiscriminatorNorm = Literal["instance", "none"]
WeightInit = Literal["normal", "xavier"]
TemporalMode = Literal["transform", "flow"]  # the training regulariser's pairs: see trainer/temporal.py
# optical flow: DIS (what the smoother follows, and vidswap eval's default), Farneback (a second method)
FlowMethod = Literal["dis", "farneback"]
# where vidswap eval judges the warping error: the whole frame, or the faces face mode pastes
EvalRegion = Literal["frame", "faces", "all-faces"]


def choices(kind) -> tuple[str, ...]:
    """The values of a Literal type, in their declared order."""
    return get_args(kind)
