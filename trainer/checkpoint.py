"""Training checkpoints: one safetensors file holding every tensor (weights, optimizer
moments, image pools, RNG states) with the rest as JSON in its metadata (step, config,
optimizer hyper-parameters, loss scaler). Written to a temporary file and renamed, so a
crash mid-write leaves the previous checkpoint intact. Loading runs no code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from vidswap.errors import VidswapError
from vidswap.fsutil import atomic_path

CHECKPOINT = "checkpoint.safetensors"


def _optimizer_split(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    sd = opt.state_dict()
    plain: dict[str, Any] = {}
    for idx, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}/{idx}/{key}"] = value
            else:
                plain[f"{idx}/{key}"] = value
    return {"param_groups": sd["param_groups"], "plain": plain}


def _optimizer_join(meta: dict[str, Any], prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "/"):
            idx, key = name[len(prefix) + 1 :].split("/", 1)
            state.setdefault(int(idx), {})[key] = value
    for name, value in meta["plain"].items():
        idx, key = name.split("/", 1)
        state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    run_dir: Path,
    step: int,
    config: dict[str, Any],
    method,
    rng: dict[str, torch.Tensor],
    scaler: torch.amp.GradScaler | None,
) -> Path:
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for name, net in method.modules.items():
        for key, value in net.state_dict().items():
            tensors[f"net/{name}/{key}"] = value
    optim = {name: _optimizer_split(opt, f"opt/{name}", tensors) for name, opt in method.optimizers.items()}
    for key, value in method.state().items():
        tensors[f"state/{key}"] = value
    for key, value in rng.items():
        tensors[f"rng/{key}"] = value
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {"step": step, "config": config, "optimizers": optim, "scaler": scaler.state_dict() if scaler else None}
    path = run_dir / CHECKPOINT
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"vidswap": json.dumps(meta)})
    return path


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """-> (metadata: step, config, ...; tensors)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads(f.metadata()["vidswap"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise VidswapError(f"unreadable checkpoint {path}: {exc}") from None
    return meta, tensors


def restore(meta: dict[str, Any], tensors: dict[str, torch.Tensor], method, scaler) -> dict[str, torch.Tensor]:
    """Load weights, optimizer and method state into `method`; -> the saved RNG states."""
    for name, net in method.modules.items():
        prefix = f"net/{name}/"
        net.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
    for name, opt in method.optimizers.items():
        opt.load_state_dict(_optimizer_join(meta["optimizers"][name], f"opt/{name}", tensors))
    method.load_state({k[6:]: v for k, v in tensors.items() if k.startswith("state/")})
    if scaler is not None and meta.get("scaler"):
        scaler.load_state_dict(meta["scaler"])
    return {k[4:]: v for k, v in tensors.items() if k.startswith("rng/")}


def checkpoint_meta(path: Path) -> dict[str, Any]:
    """Only the JSON part (step, config) of a checkpoint, without reading its tensors."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            return json.loads(f.metadata()["vidswap"])
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise VidswapError(f"unreadable checkpoint {path}: {exc}") from None
