"""What every inference backend is: a callable from a batch of images to a batch of images.

Call convention (all backends): `backend(x)` with x a float torch.Tensor, NCHW RGB in
[-1, 1], on any device; it returns a float32 torch.Tensor, NCHW in [-1, 1], on
`backend.device` (it may be channels-last in memory: index it, do not assume its
strides). The output's height and width are the generator's (for ResNet generators the
input's, rounded up to a multiple of 4): the caller chooses input sizes the network needs.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn


class Backend:
    name: str = ""  # torch | compile | onnx | tensorrt
    device: torch.device
    precision: str = "fp32"  # fp32 | fp16
    fixed_size: tuple[int, int] | None = None  # (height, width) when the backend takes no other size
    _export_dir = None  # a temporary export folder the backend keeps alive (models without a folder)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def signature(self) -> str:
        """What decides whether this backend computes the same thing as last time:
        backend, library version, device, precision (keys the cached verification)."""
        return f"{self.name}|{self.precision}|{device_label(self.device)}"

    def describe(self) -> str:
        return f"{self.name} ({self.precision}, {device_label(self.device)})"


def device_label(device: torch.device) -> str:
    """'cpu', or the GPU's name: engines and verdicts are only valid for one kind of GPU."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def weights_fingerprint(generator: nn.Module) -> str:
    """A hash of a generator's class and weights: exports and verdicts made for other
    weights are stale."""
    digest = hashlib.sha256(type(generator).__qualname__.encode())
    for key, tensor in sorted(generator.state_dict().items()):
        digest.update(key.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]
