"""Import a ResNet generator trained with the CycleGAN or CUT code (or a close copy of it)
as an ordinary vidswap model folder.

The architecture is read from the parameter names and shapes alone: both projects lay the
generator out as one nn.Sequential named `model`, as vidswap's ResnetGenerator does, so each
parameter keeps its name. What differs between their files and vidswap's layout:
  - convolutions before batch norm (or no norm) have no bias: they get a zero one;
  - PyTorch 0.4-era instance norms saved running statistics that instance norm never uses: dropped;
  - CUT's anti-aliased layers save their fixed blur filter (`filt`): checked, then dropped;
  - DataParallel adds `module.`; training checkpoints hold several networks (G_A, G_B, D_A, ...).
Files load with safetensors or torch.load(weights_only=True): opening one never runs code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidswap.errors import ModelError
from vidswap.models import BUILTIN_MODELS, CARD_FILE, PUBLISHED_WORK_SIZE, ModelCard, models_home, save_model
from vidswap.nets.generators import BlurDownsample, BlurUpsample, ResnetGenerator

# the A->B generator: CycleGAN's netG_A, CUT's only generator netG
DEFAULT_NETWORKS = ("G_A", "G")
UNUSED_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")
# a generator's parameters are model.<index>.<...>, after an optional network name
GENERATOR_KEY = re.compile(r"^(?:(?P<network>.+?)\.)?(?P<param>model\.\d+\..+)$")
TOP_LEVEL = "(top level)"


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor in the file, nested dicts flattened to dotted names, `module.` removed."""
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            loaded: Any = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise ModelError(f"cannot read {path.name} as safetensors: {exc}") from None
    else:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 (a damaged file raises UnpicklingError, KeyError, RuntimeError...)
            # torch names a refused class "Unsupported global: ..." or "unsupported GLOBAL ..."
            if isinstance(exc, pickle.UnpicklingError) and "unsupported global" in str(exc).lower():
                raise ModelError(
                    f"{path.name} holds Python objects besides tensors, which are not loaded (they could "
                    "run code): save the generator's state_dict() instead"
                ) from None
            raise ModelError(
                f"cannot read {path.name} as a PyTorch checkpoint: truncated, damaged or another kind of file "
                f"({type(exc).__name__})"
            ) from None
    return {".".join(p for p in name.split(".") if p != "module"): t for name, t in _tensors(loaded)}


def _tensors(obj: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):  # other leaves (epoch numbers, option lists) are no weights
        for key, value in obj.items():
            yield from _tensors(value, f"{prefix}.{key}" if prefix else str(key))


def split_networks(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Network name -> its state dict. A network is a name under which `model.<index>.` keys
    live (TOP_LEVEL for a bare state dict); tensors under no such name (optimiser state, CUT's
    netF head) belong to no generator and are left out."""
    names = set()
    for key in tensors:
        match = GENERATOR_KEY.match(key)
        if match:
            names.add(match["network"] or TOP_LEVEL)
    networks: dict[str, dict[str, torch.Tensor]] = {name: {} for name in names}
    for key, value in tensors.items():
        owner = max((n for n in names if n != TOP_LEVEL and key.startswith(n + ".")), key=len, default=None)
        if owner is not None:
            networks[owner][key[len(owner) + 1 :]] = value
        elif TOP_LEVEL in names:
            networks[TOP_LEVEL][key] = value
    return networks


def pick_network(networks: dict[str, dict[str, torch.Tensor]], wanted: str | None, path: Path):
    """(name, state dict) of the network asked for, else of the only one, else of the A->B generator."""

    def bare(name: str) -> str:
        return name.removeprefix("net")

    held = ", ".join(sorted(networks))
    if wanted:
        found = [n for n in networks if n == wanted or bare(n) == bare(wanted)]
        if not found:
            raise ModelError(f"{path.name} has no network {wanted!r} (it holds: {held})")
        return found[0], networks[found[0]]
    if len(networks) == 1:
        return next(iter(networks.items()))
    found = [n for n in networks if bare(n) in DEFAULT_NETWORKS]
    if len(found) != 1:
        raise ModelError(f"{path.name} holds several networks ({held}): choose one with --network")
    return found[0], networks[found[0]]


def infer_architecture(state: dict[str, torch.Tensor], path: Path) -> dict[str, Any]:
    """ResnetGenerator's constructor arguments from the names and shapes of a state dict;
    `fit_state` then checks every tensor against the network they build."""
    layers = {k: v for k, v in state.items() if GENERATOR_KEY.match(k)}  # others: refused by fit_state
    first = layers.get("model.1.weight")
    if first is None or first.ndim != 4 or first.shape[-1] != 7:
        raise ModelError(
            f"{path.name} is not a ResNet generator: cannot place {next(iter(state))!r} "
            "(expected a 7x7 convolution at model.1.weight)"
        )
    ngf = first.shape[0]
    convolutions = [k for k, v in layers.items() if k.endswith(".weight") and v.ndim == 4]
    last = max(convolutions, key=lambda k: int(k.split(".")[1]))
    # the widest 3x3 kernel is the residual blocks' width: ngf doubled once per downsampling
    width = max((layers[k].shape[0] for k in convolutions if layers[k].shape[-1] == 3), default=ngf)
    # model.2 is the first norm layer in both layouts: the norm is read there, so that a stray key
    # elsewhere is named by fit_state rather than taken for a norm's parameter. The reference code
    # gives convolutions a bias exactly when instance norm follows, which tells an old affine
    # instance norm's saved statistics from batch norm's.
    if "model.2.weight" in layers:
        batch = "model.2.running_mean" in layers and "model.1.bias" not in layers
        norm = "batch" if batch else "instance_affine"
    else:
        norm = "instance" if "model.1.bias" in layers else "none"
    return {
        "in_channels": first.shape[1],
        "out_channels": layers[last].shape[0],
        "ngf": ngf,
        "n_blocks": len({k.split(".")[1] for k in layers if k.split(".")[2] == "conv_block"}),
        "n_downsampling": max(0, round(math.log2(width / ngf))),
        "norm": norm,
        "antialias": any(k.endswith(".filt") for k in layers),
    }


def fit_state(state: dict[str, torch.Tensor], net: ResnetGenerator, path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors as `net`'s state dict, or a ModelError naming the first key that
    has no place in it (or the first parameter it lacks)."""
    target = net.state_dict()
    modules = dict(net.named_modules())
    fitted = {}
    for key, value in state.items():
        owner, _, leaf = key.rpartition(".")
        module = modules.get(owner)
        if isinstance(module, nn.InstanceNorm2d) and not module.track_running_stats and leaf in UNUSED_STATISTICS:
            continue
        if isinstance(module, (BlurDownsample, BlurUpsample)) and leaf == "filt":
            if value.shape != module.kernel.shape or not torch.allclose(value.float(), module.kernel, atol=1e-6):
                raise ModelError(
                    f"{path.name}: the blur filter {key!r} is not the binomial one vidswap's "
                    f"anti-aliased layers use ({tuple(module.kernel.shape)})"
                )
            continue
        if key not in target:
            raise ModelError(f"{path.name}: cannot place {key!r} in a ResNet generator ({describe(net.kwargs)})")
        if value.shape != target[key].shape:
            raise ModelError(
                f"{path.name}: cannot place {key!r} of shape {tuple(value.shape)} in a ResNet generator "
                f"({describe(net.kwargs)}), which needs {tuple(target[key].shape)}"
            )
        fitted[key] = value.to(target[key].dtype)
    for key, value in target.items():
        if key in fitted:
            continue
        owner, _, leaf = key.rpartition(".")
        bias_free_conv = leaf == "bias" and isinstance(modules[owner], nn.Conv2d | nn.ConvTranspose2d)
        if (bias_free_conv and f"{owner}.weight" in fitted) or leaf == "num_batches_tracked":
            fitted[key] = torch.zeros_like(value)  # a convolution saved without bias; a counter eval never reads
        else:
            raise ModelError(f"{path.name} lacks {key!r}, which a ResNet generator ({describe(net.kwargs)}) needs")
    return fitted


def describe(kwargs: dict[str, Any]) -> str:
    sampling = "anti-aliased sampling" if kwargs["antialias"] else "transposed convolutions"
    return f"ngf {kwargs['ngf']}, {kwargs['n_blocks']} blocks, {kwargs['norm']} norm, {sampling}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_name(name: str, store: Path, replace: bool) -> Path:
    if not name or name.startswith(".") or Path(name).name != name or name in BUILTIN_MODELS:
        raise ModelError(f"{name!r} cannot name a model: use a plain folder name that is not built in")
    folder = store / name
    if (folder / CARD_FILE).exists() and not replace:
        raise ModelError(f"a model {name!r} already exists in {store} (choose another --name or pass --replace)")
    return folder


def import_checkpoint(
    path: str | os.PathLike,
    name: str,
    *,
    mode: str = "frame",
    size: int | None = None,
    domains: list[str] | None = None,
    models_dir: str | os.PathLike | None = None,
    network: str | None = None,
    replace: bool = False,
    source: dict[str, Any] | None = None,
) -> tuple[Path, ModelCard]:
    """Read a generator checkpoint, rebuild it as vidswap's ResnetGenerator and write a model
    folder into the store (built beside it, renamed into place: nothing half-written stays).
    `source`: more facts about where the file came from, for the card's extra["source"]."""
    path = Path(path)
    folder = check_name(name, models_home(models_dir), replace)
    tensors = read_checkpoint(path)
    networks = split_networks(tensors)
    if not networks:  # a generator's parameters are model.<index>.<...>, under a network name or none
        first = f"cannot place {next(iter(tensors))!r}" if tensors else "it holds no tensors"
        raise ModelError(f"{path.name} is not a ResNet generator checkpoint: {first} (expected model.<index>. keys)")
    network_name, state = pick_network(networks, network, path)
    kwargs = infer_architecture(state, path)
    generator = ResnetGenerator(**kwargs)
    generator.load_state_dict(fit_state(state, generator, path))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    project = "CUT" if kwargs["antialias"] else "CycleGAN"  # whose layout it has: CUT anti-aliases by default
    card = ModelCard(
        name=name,
        method=project.lower(),
        mode=mode,
        size=size if size is not None or mode == "frame" else 256,  # face crops: the projects' training size
        generators={"AtoB": {"class": "ResnetGenerator", "kwargs": generator.kwargs}},
        work_size=PUBLISHED_WORK_SIZE if mode == "frame" else None,  # frames: the scale the projects test at
        domains=domains or [],
        created=now,
        extra={
            "source": {
                "file": path.name,
                "sha256": file_sha256(path),
                "date": now,
                "project": project,
                "network": network_name,
            }
            | (source or {})
        },
    )
    return save_model(folder, card, {"AtoB": generator.eval()}), card
