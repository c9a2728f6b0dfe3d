"""What every inference backend is: a callable from a batch of images to a batch of images.

Call convention (all backends): `backend(x)` with x a float torch.Tensor, NCHW RGB in
[-1, 1], on any device; it returns a float32 torch.Tensor, NCHW in [-1, 1], on
`backend.device` (it may be channels-last in memory: index it, do not assume its
strides). The output's height and width are the generator's (for ResNet generators the
input's, rounded up to a multiple of 4): the caller chooses input sizes the network needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

Size = tuple[int, int]  # (height, width)


@dataclass(frozen=True)
class BackendRequest:
    """What a backend is made for.

    max_batch: the largest batch the caller will send (TensorRT's optimisation profile).
    image_size: the size of the first images (export example, TensorRT's optimum size).
    size_range: the smallest and largest sizes a TensorRT engine should take (None: image_size only).
    model_folder: where exports, engines and check verdicts are kept."""

    generator: nn.Module
    device: torch.device
    fp16: bool
    max_batch: int
    image_size: Size
    size_range: tuple[Size, Size] | None
    model_folder: Path
    generator_name: str


class Backend:
    """One inference backend. The class says whether it can run here (`available`,
    `check`) and makes an instance for a request (`create`); the registry in
    runtime/__init__.py lists the classes by name."""

    name: ClassVar[str] = ""  # a BackendName (vidswap/choices.py)
    auto_on: ClassVar[tuple[str, ...]] = ()  # device types on which `--backend auto` tries it
    auto_rank: ClassVar[int] = 0  # auto's order among those (lowest first)
    device: torch.device
    precision: str = "fp32"  # fp32 | fp16
    fixed_size: tuple[int, int] | None = None  # (height, width) when the backend takes no other size
    is_reference: bool = False  # torch eager fp32: what the other backends are checked against
    holds_statistics: ClassVar[bool] = False  # runs a HeldNorms generator along a clip (`restart`)
    _export_dir = None  # a temporary export folder the backend keeps alive (models without a folder)

    @classmethod
    def available(cls) -> bool:
        """Whether its libraries are installed here."""
        return True

    @classmethod
    def check(cls, device: torch.device, fp16: bool) -> None:
        """Raise a one-line VidswapError when it cannot run on `device` in this precision."""

    @classmethod
    def create(cls, request: BackendRequest) -> Backend:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def restart(self, starts: Sequence[bool]) -> None:
        """Which images of the next batch begin a scene (a HeldNorms generator's clip frames;
        only backends that hold statistics are given one)."""
        raise NotImplementedError(f"the {self.name} backend cannot hold statistics")

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
