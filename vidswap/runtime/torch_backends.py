"""PyTorch backends: eager (the reference every other backend is checked against) and
torch.compile."""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn

from vidswap.runtime.base import Backend, BackendRequest


class TorchBackend(Backend):
    """Eager PyTorch: inference mode, channels-last on CUDA (what cuDNN's fast kernels
    want), autocast to fp16 on CUDA when asked. Works on a copy of the generator, so the
    caller's module is left as it was."""

    name = "torch"
    auto_on = ("cuda", "cpu")
    auto_rank = 1  # the fallback everywhere
    holds_statistics = True

    def __init__(self, generator: nn.Module, device: torch.device, fp16: bool = False):
        self.device = device
        self.precision = "fp16" if fp16 else "fp32"
        self.is_reference = type(self) is TorchBackend and not fp16
        self.memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        self.module = copy.deepcopy(generator).to(device).eval().requires_grad_(False)
        self.module = self.module.to(memory_format=self.memory_format)

    @classmethod
    def create(cls, request: BackendRequest) -> TorchBackend:
        return cls(request.generator, request.device, request.fp16)

    def _autocast(self):
        if self.precision == "fp16":
            return torch.autocast(self.device.type, dtype=torch.float16)
        return contextlib.nullcontext()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, torch.float32, non_blocking=True).contiguous(memory_format=self.memory_format)
        with torch.inference_mode(), self._autocast():
            return self.module(x).float()

    def restart(self, starts) -> None:
        self.module.restart(starts)

    @property
    def signature(self) -> str:
        return f"{super().signature}|torch {torch.__version__}"


class CompiledBackend(TorchBackend):
    """torch.compile (Inductor) of the eager backend. The first call for each input shape
    compiles (tens of seconds); `dynamic=None` lets a second shape (the last, shorter
    batch) compile a shape-generic graph instead of one graph per shape."""

    name = "compile"
    auto_on = ()  # never picked by auto: it compiles for 15-40 s at every start
    holds_statistics = False  # not tried: the held statistics' Python loop would break its graphs

    def __init__(self, generator: nn.Module, device: torch.device, fp16: bool = False):
        super().__init__(generator, device, fp16)
        self.module = torch.compile(self.module, dynamic=None)
