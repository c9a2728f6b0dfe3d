"""Inference backends behind one interface.

    backend = create_backend(model.generator, "auto", device="cpu", batch_sizes=(4,),
                             image_size=(h, w), model_folder=model.folder,
                             generator_name=model.card.default_generator)
    y = backend(x)   # x: float NCHW in [-1, 1], any device -> float32 NCHW on backend.device

See base.py for the call convention and the interface of a backend class. A backend is
one module with one class, plus its line in REGISTRY below (and its name in
vidswap/choices.py's BackendName). `auto` tries, in order, the installed backends that
declare the device (`auto_on`, ordered by `auto_rank`), taking the first that loads and
passes its check against torch eager:
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

from vidswap.choices import BackendName, choices
from vidswap.errors import ConfigError
from vidswap.runtime.base import Backend, BackendRequest, weights_fingerprint
from vidswap.runtime.export import export_onnx, onnx_path
from vidswap.runtime.onnxruntime_backend import OnnxRuntimeBackend
from vidswap.runtime.tensorrt_backend import TensorRTBackend
from vidswap.runtime.torch_backends import CompiledBackend, TorchBackend
from vidswap.runtime.verify import sample_batch, verify_backend

__all__ = [
    "REGISTRY", "Backend", "auto_order", "check_choice", "create_backend", "export_onnx", "holds_statistics",
    "onnx_path",
]  # fmt: skip

log = logging.getLogger(__name__)

REGISTRY: dict[str, type[Backend]] = {
    cls.name: cls for cls in (TorchBackend, CompiledBackend, OnnxRuntimeBackend, TensorRTBackend)
}


def auto_order(device: torch.device) -> list[str]:
    """The backends `auto` tries on `device`, best first."""
    candidates = [cls for cls in REGISTRY.values() if device.type in cls.auto_on and cls.available()]
    return [cls.name for cls in sorted(candidates, key=lambda cls: cls.auto_rank)]


def holds_statistics(name: str, device: torch.device) -> bool:
    """Whether backend `name` (for auto: every backend it may fall back to) can run a
    HeldNorms generator along a clip."""
    names = auto_order(device) if name == "auto" else [name]
    return all(REGISTRY[n].holds_statistics for n in names)


def create_backend(
    generator: nn.Module,
    name: BackendName = "auto",
    *,
    device: str | torch.device = "cpu",
    fp16: bool = False,
    batch_sizes: tuple[int, ...] = (1,),
    image_size: tuple[int, int] = (256, 256),
    size_range: tuple[tuple[int, int], tuple[int, int]] | None = None,
    model_folder: str | Path | None = None,
    generator_name: str = "AtoB",
    verify: bool = True,
) -> Backend:
    """A backend running `generator` on `device`, checked against torch eager fp32.

    batch_sizes: the batch sizes the caller will use (TensorRT's optimisation profile).
    image_size: (height, width) of the images it will be given first (export example,
        sample for the check, TensorRT's profile).
    size_range: ((min_h, min_w), (max_h, max_w)) a TensorRT engine should cover beside
        image_size (None: image_size only; other sizes build more engines when they come).
    model_folder: where exports, engines and check verdicts are kept (None: a temporary
        folder, nothing kept).
    fp16: half precision on CUDA (autocast for torch, an fp16 graph for tensorrt).
    """
    device = torch.device(device)
    check_choice(name, device, fp16)
    temp = None
    if model_folder is None:
        temp = tempfile.TemporaryDirectory(prefix="vidswap-export-")
        model_folder = temp.name
    request = BackendRequest(
        generator, device, fp16, max(batch_sizes), tuple(image_size), size_range, Path(model_folder), generator_name
    )
    order = [name] if name != "auto" else auto_order(device)
    for candidate in order:
        try:
            backend = _create(REGISTRY[candidate], request, verify)
        except Exception as exc:  # noqa: BLE001 (any failure of a candidate: TensorRT, ORT, OSError...)
            if candidate == order[-1]:
                raise
            log.warning("backend %s failed (%s: %s); trying the next", candidate, type(exc).__name__, exc)
            continue
        backend._export_dir = temp  # keeps a temporary export folder alive as long as the backend
        return backend
    raise AssertionError("unreachable: the last candidate returns or raises")


def check_choice(name: str, device: str | torch.device, fp16: bool = False) -> None:
    """Refuse a backend choice that cannot run here, before any work is done for it
    (a face pass over the whole clip, an export)."""
    device = torch.device(device)
    if name not in choices(BackendName):
        raise ConfigError(f"unknown backend {name!r} (known: {', '.join(choices(BackendName))})")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("a CUDA device was asked for but torch sees no GPU")
    if fp16 and device.type != "cuda":
        raise ConfigError("--fp16 needs a CUDA GPU")
    if name != "auto":  # auto tries only what is installed
        REGISTRY[name].check(device, fp16)


def _create(cls: type[Backend], request: BackendRequest, verify: bool) -> Backend:
    cls.check(request.device, request.fp16)
    backend = cls.create(request)
    if verify and not backend.is_reference:
        sample = sample_batch(1, *request.image_size)
        reference = TorchBackend(request.generator, request.device, fp16=False)
        fingerprint = weights_fingerprint(request.generator)
        verify_backend(backend, reference, sample, fingerprint=fingerprint, model_folder=request.model_folder)
    return backend
