"""ONNX export of generators, and the exported file a model folder keeps.

The dynamo exporter (torch.export + onnxscript) is used: on ResNet/CUT generators it
gives a clean graph (Conv, InstanceNormalization, reflect Pad, ConvTranspose, Tanh:
nothing TensorRT or ONNX Runtime has to pattern-match), while the TorchScript exporter
wraps each reflection pad in ~10 shape-computing nodes. Batch, height and width are
dynamic; a network that cannot take any size (a Linear layer after the convolutions)
is exported with fixed height and width and a dynamic batch.

For fp16 TensorRT engines the exported graph is converted to fp16 here (TensorRT 11 takes
precision from the graph only; TensorRT 10 is given the same strongly typed graph).
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from vidswap.errors import MissingDependency, ModelError
from vidswap.fsutil import atomic_path
from vidswap.nets.held_norm import HeldNorms
from vidswap.runtime.base import BackendRequest, weights_fingerprint

log = logging.getLogger(__name__)

INPUT_NAME, OUTPUT_NAME = "input", "output"
HISTORY_NAME, STATE_NAME, NEW_STATE_NAME = "history", "state", "new_state"  # a HeldStep's extra inputs and output
FINGERPRINT_KEY = "vidswap.weights"  # ONNX metadata: which weights the file was made from
# kept in fp32 in an fp16 graph: normalisation (a variance over a whole feature map overflows
# or loses its precision in half floats, which shows as blotches) and other reductions
FP32_OPS = (
    "InstanceNormalization", "BatchNormalization", "LayerNormalization", "GroupNormalization",
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL2", "Pow", "Sqrt", "Reciprocal", "Exp", "Log",
    "Softmax", "Erf",
)  # fmt: skip


def onnx_path(model_folder: Path, generator_name: str) -> Path:
    return Path(model_folder) / f"{generator_name}.onnx"


def _dynamo_export(module: nn.Module, inputs: tuple, input_names: list[str], output_names: list[str], dynamic_shapes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.onnx.export(
            module,
            inputs,
            dynamo=True,
            input_names=input_names,
            output_names=output_names,
            dynamic_shapes=dynamic_shapes,
            optimize=True,
            verbose=False,
        )


def export_onnx(generator: nn.Module, path: str | os.PathLike, *, image_size: tuple[int, int] = (256, 256)) -> Path:
    """Export a generator (NCHW RGB in [-1, 1] -> same) to ONNX at `path`, atomically.
    `image_size` (height, width) is the example the exporter traces with; it is also the
    fixed size when the network cannot take dynamic sizes. A HeldNorms generator is exported
    as its HeldStep: one frame, the history's weight and the held statistics in
    (INPUT_NAME, HISTORY_NAME, STATE_NAME), the output and the new statistics out."""
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError:
        raise MissingDependency("onnxscript", "ONNX export", extra="onnx") from None

    path = Path(path)
    generator = copy.deepcopy(generator).eval().cpu()  # the caller's module stays on its device
    height = torch.export.Dim("height", min=16, max=8192)
    width = torch.export.Dim("width", min=16, max=8192)
    if isinstance(generator, HeldNorms):  # batch 1: each frame's statistics depend on the frame before
        module, names = generator.step(), ([INPUT_NAME, HISTORY_NAME, STATE_NAME], [OUTPUT_NAME, NEW_STATE_NAME])
        sample = (torch.rand(1, 3, *image_size) * 2 - 1, torch.tensor(generator.hold), torch.rand(generator.state_size))
        shapes = [({2: height, 3: width}, None, None), (None, None, None)]
    else:
        # batch 2: an example batch of 1 would let the exporter specialise the batch to 1
        module, names, sample = generator, ([INPUT_NAME], [OUTPUT_NAME]), (torch.rand(2, 3, *image_size) * 2 - 1,)
        batch = torch.export.Dim("batch", min=1, max=1024)
        shapes = [({0: batch, 2: height, 3: width},), ({0: batch},)]
    try:
        program = _dynamo_export(module, sample, *names, shapes[0])
    except Exception as exc:  # noqa: BLE001 (the exporter raises many kinds)
        log.info("dynamic-size export failed (%s); exporting with a fixed %s size", exc, image_size)
        try:
            program = _dynamo_export(module, sample, *names, shapes[1])
        except Exception as exc2:  # noqa: BLE001
            raise ModelError(
                f"cannot export {type(generator).__name__} to ONNX: {type(exc2).__name__}: {exc2}"
            ) from None
    program.model.metadata_props[FINGERPRINT_KEY] = weights_fingerprint(generator)
    with atomic_path(path) as tmp:
        program.save(str(tmp))
    return path


def exported_fingerprint(path: Path) -> str | None:
    """The weights fingerprint recorded in an exported file, None if unreadable."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 (a damaged or partial file: re-export)
        return None
    return next((p.value for p in model.metadata_props if p.key == FINGERPRINT_KEY), None)


def ensure_onnx(generator: nn.Module, path: Path, image_size: tuple[int, int]) -> Path:
    """The ONNX file at `path`, exported again when missing or made from other weights."""
    if path.is_file() and exported_fingerprint(path) == weights_fingerprint(generator):
        return path
    return export_onnx(generator, path, image_size=image_size)


def exported_onnx(request: BackendRequest) -> Path:
    """The request's generator as an ONNX file in its model folder."""
    held = isinstance(request.generator, HeldNorms)  # another graph (HeldStep), kept beside the plain one
    path = onnx_path(request.model_folder, request.generator_name + (".held" if held else ""))
    return ensure_onnx(request.generator, path, request.image_size)


def ensure_fp16_onnx(onnx_file: Path) -> Path:
    """An fp16 copy of an exported graph beside it (made again when the export changed):
    weights and most operators in fp16; inputs, outputs and FP32_OPS in fp32, with casts
    between them."""
    import onnx

    try:
        from onnxconverter_common import float16
    except ImportError:
        raise MissingDependency("onnxconverter-common", "--fp16 with the tensorrt backend", extra="onnx") from None

    path = onnx_file.with_name(f"{onnx_file.stem}.fp16.onnx")
    fingerprint = exported_fingerprint(onnx_file)
    if path.is_file() and exported_fingerprint(path) == fingerprint:
        return path
    model = onnx.load(str(onnx_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns about each weight it clamps to the fp16 range
        half = float16.convert_float_to_float16(
            model, keep_io_types=True, op_block_list=[*float16.DEFAULT_OP_BLOCK_LIST, *FP32_OPS]
        )
    with atomic_path(path) as tmp:
        onnx.save(half, str(tmp))
    return path
