"""Import a ResNet generator trained with the CycleGAN or CUT code, or with any of the
re-implementations that keep their layer order, as an ordinary vidswap model folder.

The architecture is read from the order and shapes of the tensors (vidswap.nets.resnet_layout),
not their names. What this module handles around it:
  - a checkpoint may hold several networks (G_A, G_B, D_A, an optimiser, an EMA copy...): each
    group of tensors under a common name is tried, and the A->B generator is taken by default;
  - DataParallel adds `module.`;
  - safetensors files keep no order: their names are put in natural order (model.2 before model.10).
Files load with safetensors or torch.load(weights_only=True): opening one never runs code.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from vidswap.download import file_sha256
from vidswap.errors import ModelError
from vidswap.models import BUILTIN_MODELS, CARD_FILE, PUBLISHED_WORK_SIZE, ModelCard, models_home, save_model
from vidswap.nets.generators import ResnetGenerator
from vidswap.nets.resnet_layout import Hints, Unplaced, build_generator

# the A->B generator: CycleGAN's netG_A, CUT's only generator netG, a training script's
# "state_dict" (beside its "ema_state_dict")
DEFAULT_NETWORKS = ("G_A", "G", "state_dict")
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
    tensors = {".".join(p for p in name.split(".") if p != "module"): t for name, t in _tensors(loaded)}
    if path.suffix == ".safetensors":
        return dict(sorted(tensors.items(), key=lambda item: natural_key(item[0])))
    return tensors


def natural_key(name: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in name.split(".")]


def _tensors(obj: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):  # other leaves (epoch numbers, option lists) are no weights
        for key, value in obj.items():
            yield from _tensors(value, f"{prefix}.{key}" if prefix else str(key))


def find_generators(tensors: dict[str, torch.Tensor], hints: Hints):
    """Each group of tensors that reads as a ResNet generator, by name: the whole file (TOP_LEVEL),
    else each group under a common first name, and so on down; and the groups that did not
    read, by name, each with the error naming the first tensor it could not place."""
    found: dict[str, ResnetGenerator] = {}
    failed: dict[str, Unplaced] = {}

    def visit(name: str, group: dict[str, torch.Tensor]) -> None:
        try:
            found[name] = build_generator(group, hints)
            return
        except Unplaced as exc:
            failed[name] = exc
        children: dict[str, dict[str, torch.Tensor]] = {}
        for key, value in group.items():
            head, dot, rest = key.partition(".")
            if dot:
                children.setdefault(head, {})[rest] = value
        for child, child_group in children.items():
            visit(child if name == TOP_LEVEL else f"{name}.{child}", child_group)

    visit(TOP_LEVEL, tensors)
    return found, failed


def bare(name: str) -> str:
    return name.removeprefix("net")


def pick_network(tensors: dict[str, torch.Tensor], wanted: str | None, path: Path, hints: Hints):
    """(name, generator) of the network asked for, else of the only one, else of the A->B generator.
    A network asked for (or the A->B generator) that does not read is refused with its error,
    not passed over for another."""
    found, failed = find_generators(tensors, hints)

    def refuse(name: str, error: Unplaced):
        where = "" if name == TOP_LEVEL else f" (network {name})"
        return ModelError(f"{path.name} is not a ResNet generator{where}: {error}")

    def named(names, target: str) -> list[str]:
        return [n for n in names if n == target or bare(n) == bare(target)]

    held = ", ".join(sorted(found))
    if wanted:
        if named(found, wanted):
            return named(found, wanted)[0], found[named(found, wanted)[0]]
        if named(failed, wanted):
            raise refuse(named(failed, wanted)[0], failed[named(failed, wanted)[0]])
        raise ModelError(f"{path.name} has no network {wanted!r} (it holds: {held or 'none that reads'})")
    defaults = [n for n in found if bare(n) in DEFAULT_NETWORKS]
    broken_defaults = [n for n in failed if bare(n) in DEFAULT_NETWORKS]
    if len(defaults) == 1 or (len(found) == 1 and not broken_defaults):
        chosen = defaults[0] if defaults else next(iter(found))
        return chosen, found[chosen]
    if not defaults and broken_defaults:
        raise refuse(broken_defaults[0], failed[broken_defaults[0]])
    if not found:  # the attempt that read furthest says most (the first of them: the widest group)
        name = max(failed, key=lambda n: failed[n].placed)
        raise refuse(name, failed[name])
    raise ModelError(f"{path.name} holds several networks ({held}): choose one with --network")


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
    hints: Hints | None = None,
    source: dict[str, Any] | None = None,
) -> tuple[Path, ModelCard]:
    """Read a generator checkpoint, rebuild it as vidswap's ResnetGenerator and write a model
    folder into the store (built beside it, renamed into place: nothing half-written stays).
    `hints`: what the weights cannot tell (paddings, the resize mode, the norm); `source`: more
    facts about where the file came from, for the card's extra["source"]."""
    path = Path(path)
    folder = check_name(name, models_home(models_dir), replace)
    network_name, generator = pick_network(read_checkpoint(path), network, path, hints or Hints())
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    built = generator.kwargs
    project = "CUT" if built["antialias"] or built["upsample"] == "blur" else "CycleGAN"  # CUT blurs by default
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
