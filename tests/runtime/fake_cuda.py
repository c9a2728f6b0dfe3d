"""The thinnest stand-in for a CUDA GPU that the TensorRT backend's logic can run on: the
torch.cuda calls it makes (current device, device context, streams, device name) and
"cuda" tensors that live in host memory (so the fake TensorRT can read and write them at
their addresses). Streams and device switches are recorded for the tests to check."""

from __future__ import annotations

import contextlib
import itertools

import torch
from torch.overrides import TorchFunctionMode


class FakeStream:
    def __init__(self, gpu: FakeGpu, device_index: int, handle: int):
        self.gpu, self.device_index, self.cuda_stream = gpu, device_index, handle

    def wait_stream(self, other: FakeStream) -> None:
        self.gpu.events.append(("wait", self.cuda_stream, other.cuda_stream))


class FakeGpu:
    """Patches torch.cuda for `count` GPUs; `events` lists stream waits and Tensor.record_stream calls."""

    name = "Fake GPU"

    def __init__(self, monkeypatch, count: int = 2):
        self.current = 0
        self.events: list[tuple] = []
        handles = itertools.count(1)  # 0 is the default stream
        gpu = self

        @contextlib.contextmanager
        def device(index):
            previous, gpu.current = gpu.current, _index(index, gpu.current)
            try:
                yield
            finally:
                gpu.current = previous

        for name, value in {
            "is_available": lambda: True,
            "device_count": lambda: count,
            "current_device": lambda: gpu.current,
            "get_device_name": lambda device=None: self.name,
            "device": device,
            "Stream": lambda device=None: FakeStream(gpu, _index(device, gpu.current), next(handles)),
            "current_stream": lambda device=None: FakeStream(gpu, _index(device, gpu.current), 0),
        }.items():
            monkeypatch.setattr(torch.cuda, name, value)

        def record_stream(tensor, stream):
            gpu.events.append(("record_stream", stream.cuda_stream))

        monkeypatch.setattr(torch.Tensor, "record_stream", record_stream)


def _index(device, current: int) -> int:
    if device is None:
        return current
    if isinstance(device, int):
        return device
    device = torch.device(device)
    return current if device.index is None else device.index


class HostMemory(TorchFunctionMode):
    """While active, tensors asked for on "cuda" are made on the CPU."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.device:  # a device stays what it names; tensors on it are what move
            return func(*args, **kwargs)
        args = tuple(_host(value) for value in args)
        kwargs = {key: _host(value) for key, value in kwargs.items()}
        return func(*args, **kwargs)


def _host(value):
    if isinstance(value, torch.device) and value.type == "cuda":
        return torch.device("cpu")
    if isinstance(value, str) and value.startswith("cuda"):
        return "cpu"
    return value
