"""Choosing the torch device: CUDA when there is one, else CPU."""

from __future__ import annotations

from vidswap.errors import ConfigError


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {requested}: no CUDA GPU is available (use cpu or auto)")
    if requested != "cpu" and not requested.startswith("cuda"):
        raise ConfigError(f"--device {requested}: expected auto, cpu, cuda or cuda:N")
    return requested
