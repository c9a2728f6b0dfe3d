"""ONNX export of generators, and the exported file a model folder keeps.

The dynamo exporter (torch.export + onnxscript) is used: on ResNet/CUT generators it
gives a clean graph (Conv, InstanceNormalization, reflect Pad, ConvTranspose, Tanh:
nothing TensorRT or ONNX Runtime has to pattern-match), while the TorchScript exporter
wraps each reflection pad in ~10 shape-computing nodes. Batch, height and width are
dynamic; a network that cannot take any size (a Linear layer after the convolutions)
is exported with fixed height and width and a dynamic batch.
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
from vidswap.runtime.base import weights_fingerprint

log = logging.getLogger(__name__)

INPUT_NAME, OUTPUT_NAME = "input", "output"
FINGERPRINT_KEY = "vidswap.weights"  # ONNX metadata: which weights the file was made from


def onnx_path(model_folder: Path, generator_name: str) -> Path:
    return Path(model_folder) / f"{generator_name}.onnx"


def _dynamo_export(generator: nn.Module, sample: torch.Tensor, dynamic_shapes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.onnx.export(
            generator,
            (sample,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=dynamic_shapes,
            optimize=True,
            verbose=False,
        )


def export_onnx(generator: nn.Module, path: str | os.PathLike, *, image_size: tuple[int, int] = (256, 256)) -> Path:
    """Export a generator (NCHW RGB in [-1, 1] -> same) to ONNX at `path`, atomically.
    `image_size` (height, width) is the example the exporter traces with; it is also the
    fixed size when the network cannot take dynamic sizes."""
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError:
        raise MissingDependency("onnxscript", "ONNX export", extra="onnx") from None

    path = Path(path)
    generator = copy.deepcopy(generator).eval().cpu()  # the caller's module stays on its device
    # batch 2: an example batch of 1 would let the exporter specialise the batch to 1
    sample = torch.rand(2, 3, *image_size) * 2 - 1
    batch = torch.export.Dim("batch", min=1, max=1024)
    height = torch.export.Dim("height", min=16, max=8192)
    width = torch.export.Dim("width", min=16, max=8192)
    try:
        program = _dynamo_export(generator, sample, ({0: batch, 2: height, 3: width},))
    except Exception as exc:  # noqa: BLE001 (the exporter raises many kinds)
        log.info("dynamic-size export failed (%s); exporting with a fixed %s size", exc, image_size)
        try:
            program = _dynamo_export(generator, sample, ({0: batch},))
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
