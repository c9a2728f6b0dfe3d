"""Inference backends behind one interface.

    backend = create_backend(model.generator, "auto", device="cpu", batch_sizes=(4,),
                             image_size=(h, w), model_folder=model.folder,
                             generator_name=model.card.default_generator)
    y = backend(x)   # x: float NCHW in [-1, 1], any device -> float32 NCHW on backend.device

See base.py for the call convention. `auto` picks, in order (first that loads and passes
its check against torch eager):
  - on a CUDA GPU: tensorrt (if installed), then torch (eager, fp16 autocast if asked);
  - on CPU: onnx (ONNX Runtime: no start-up cost, and 1.3-3.4x eager torch for the
    paper-size ResNet generator, see docs/bench_runtime.md), then torch.
torch.compile is never picked by `auto`: on CPU it was the fastest in steady state for
the paper-size generator, but it compiles for 15-40 s at every start (and again for a
new input shape), which only long clips repay: ask for it with `--backend compile`.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import torch
from torch import nn

from vidswap.errors import ConfigError, VidswapError
from vidswap.runtime.base import Backend, weights_fingerprint
from vidswap.runtime.export import ensure_onnx, export_onnx, onnx_path
from vidswap.runtime.torch_backends import CompiledBackend, TorchBackend
from vidswap.runtime.verify import sample_batch, verify_backend

__all__ = ["BACKENDS", "Backend", "check_choice", "create_backend", "export_onnx", "onnx_path"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "compile", "onnx", "tensorrt")


def auto_order(device: torch.device) -> list[str]:
    """The backends `auto` tries, best first (the rule in the module docstring)."""
    if device.type == "cuda":
        from vidswap.runtime.tensorrt_backend import tensorrt_available

        return ["tensorrt", "torch"] if tensorrt_available() else ["torch"]
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return ["torch"]
    return ["onnx", "torch"]


def create_backend(
    generator: nn.Module,
    name: str = "auto",
    *,
    device: str | torch.device = "cpu",
    fp16: bool = False,
    batch_sizes: tuple[int, ...] = (1,),
    image_size: tuple[int, int] = (256, 256),
    model_folder: str | Path | None = None,
    generator_name: str = "AtoB",
    verify: bool = True,
) -> Backend:
    """A backend running `generator` on `device`, checked against torch eager fp32.

    batch_sizes: the batch sizes the caller will use (TensorRT's optimisation profile).
    image_size: (height, width) of the images it will be given (export example, sample
        for the check, TensorRT's profile).
    model_folder: where exports, engines and check verdicts are kept (None: a temporary
        folder, nothing kept).
    fp16: half precision on CUDA (autocast for torch, fp16 engine for tensorrt).
    """
    device = torch.device(device)
    check_choice(name, device, fp16)
    if name != "auto":
        return _create(
            name, generator, device, fp16, tuple(batch_sizes), tuple(image_size), model_folder, generator_name, verify
        )
    order = auto_order(device)
    for candidate in order:
        try:
            return _create(
                candidate,
                generator,
                device,
                fp16,
                tuple(batch_sizes),
                tuple(image_size),
                model_folder,
                generator_name,
                verify,
            )
        except VidswapError as exc:
            if candidate == order[-1]:
                raise
            log.warning("backend %s unusable, trying the next: %s", candidate, exc)
    raise AssertionError("unreachable: the last candidate raises")


def check_choice(name: str, device: str | torch.device, fp16: bool = False) -> None:
    """Refuse a backend choice that cannot run here, before any work is done for it
    (a face pass over the whole clip, an export)."""
    device = torch.device(device)
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("a CUDA device was asked for but torch sees no GPU")
    if fp16 and device.type != "cuda":
        raise ConfigError("--fp16 needs a CUDA GPU")
    if name == "auto":
        return  # auto tries only what is installed
    if name == "onnx":
        from vidswap.runtime.onnxruntime_backend import import_onnxruntime

        if fp16:
            raise ConfigError("the onnx backend runs in fp32 only: drop --fp16, or use --backend tensorrt or torch")
        import_onnxruntime()
    elif name == "tensorrt":
        from vidswap.runtime.tensorrt_backend import import_tensorrt

        import_tensorrt()
        if device.type != "cuda":
            raise ConfigError("the tensorrt backend needs a CUDA GPU")


def _create(name, generator, device, fp16, batch_sizes, image_size, model_folder, generator_name, verify) -> Backend:
    if name == "torch":
        backend: Backend = TorchBackend(generator, device, fp16)
        if not fp16:
            return backend  # fp32 eager is the reference itself
    elif name == "compile":
        backend = CompiledBackend(generator, device, fp16)
    else:
        backend = _onnx_based(name, generator, device, fp16, batch_sizes, image_size, model_folder, generator_name)
    if verify:
        folder = Path(model_folder) if model_folder else None
        sample = sample_batch(1, *image_size)
        reference = TorchBackend(generator, device, fp16=False)
        verify_backend(backend, reference, sample, fingerprint=weights_fingerprint(generator), model_folder=folder)
    return backend


def _onnx_based(name, generator, device, fp16, batch_sizes, image_size, model_folder, generator_name) -> Backend:
    temp = None
    if model_folder is None:
        temp = tempfile.TemporaryDirectory(prefix="vidswap-export-")
        model_folder = temp.name
    onnx_file = ensure_onnx(generator, onnx_path(Path(model_folder), generator_name), image_size)
    if name == "onnx":
        from vidswap.runtime.onnxruntime_backend import OnnxRuntimeBackend

        backend: Backend = OnnxRuntimeBackend(onnx_file, device, fp16)
    else:
        from vidswap.runtime.tensorrt_backend import TensorRTBackend

        backend = TensorRTBackend(onnx_file, device, fp16, batch_sizes, image_size)
    backend._export_dir = temp  # keeps a temporary export folder alive as long as the backend
    return backend
