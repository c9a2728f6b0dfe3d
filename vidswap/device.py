"""Choosing the torch device: CUDA when there is one, else CPU; under torchrun one GPU a process.

`select_device` is a plain function of what was asked, the process's local rank, the world
size and the number of visible GPUs, so every case is tested without a GPU. A CUDA device
always carries its index: `torch.cuda.set_device` refuses a bare "cuda"."""

from __future__ import annotations

import torch

from vidswap.errors import ConfigError


def _parse(requested: str) -> tuple[str, int | None]:
    kind, _, index = requested.partition(":")
    if kind in ("auto", "cpu") and not index:
        return kind, None
    if kind == "cuda" and (not index or index.isdigit()):
        return kind, int(index) if index else None
    raise ConfigError(f"device {requested!r}: expected auto, cpu, cuda or cuda:N")


def select_device(
    requested: str = "auto",
    local_rank: int = 0,
    world_size: int = 1,
    gpu_count: int | None = None,
    share_gpus: bool = False,
) -> torch.device:
    """auto: CUDA when there is a GPU, else CPU. cuda (and auto) take GPU `local_rank`, so each
    torchrun process gets its own, or with `share_gpus` (gloo) GPU `local_rank` modulo the
    count; cuda:N takes GPU N (one process only)."""
    kind, index = _parse(requested)
    if gpu_count is None:
        gpu_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if kind == "cpu" or (kind == "auto" and gpu_count == 0):
        return torch.device("cpu")
    if gpu_count == 0:
        raise ConfigError(f"device {requested!r}: no CUDA GPU is available (use cpu or auto)")
    if index is None:
        if local_rank >= gpu_count and not share_gpus:
            raise ConfigError(
                f"LOCAL_RANK {local_rank} but only {gpu_count} GPU(s) are visible: "
                f"start at most {gpu_count} processes a machine (torchrun --nproc_per_node), "
                "or let them share with train.dist_backend=gloo"
            )
        return torch.device("cuda", local_rank % gpu_count)
    if index >= gpu_count:
        raise ConfigError(f"device {requested!r}: only {gpu_count} GPU(s) are visible (cuda:0 to cuda:{gpu_count - 1})")
    if world_size > 1:
        raise ConfigError(
            f"device {requested!r} would put all {world_size} processes on one GPU: use auto or cuda under torchrun"
        )
    return torch.device("cuda", index)


def pick_device(requested: str = "auto") -> str:
    """The device for one process, as a string (cuda:N for a GPU)."""
    return str(select_device(requested))
