"""The model artifact on disk and name -> folder resolution.

A model is a folder:
    model.json                  the card: method, mode, size, domains, training summary,
                                and for each generator its {"class", "kwargs"} spec
    <generator>.safetensors     weights of each generator named in the card
    (exports such as model.onnx and TensorRT engines are added by `vidswap export`)
Weights load with safetensors only, so opening a model never executes code.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vidswap.catalog import published_name
from vidswap.errors import ModelError
from vidswap.nets import build_network
from vidswap.store import BUILTIN_MODELS, CARD_FILE, model_folders, models_home

__all__ = ["BUILTIN_MODELS", "CARD_FILE", "PUBLISHED_WORK_SIZE", "Model", "ModelCard", "list_models",
           "load_model", "models_home", "read_card", "resolve_model", "save_model", "shadowed_alias"]  # fmt: skip

# generators that run only at their training size; a card written before the card recorded
# `fully_convolutional` gets it from its generator's class
_FIXED_SIZE_GENERATORS = {"ACGANTranslator", "SwapTranslator", "LiaeTranslator"}
# the CycleGAN and CUT projects test their models on inputs resized to 256 px: the scale their
# published results show (a 1080p frame at its own size gets strokes four times finer)
PUBLISHED_WORK_SIZE = 256


@dataclass
class ModelCard:
    name: str
    method: str  # cyclegan | cut | fastcut | acgan | autoencoder | identity
    mode: str  # face | frame
    size: int | None  # training crop size; None: any size (fully convolutional, no resize)
    generators: dict[str, dict[str, Any]]  # generator name -> {"class", "kwargs"}
    default_generator: str = "AtoB"
    fully_convolutional: bool = True  # runs at any image size (else only at `size`): what inference goes by
    work_size: int | None = None  # frame mode: the shorter side frames are translated at by default (None: theirs)
    domains: list[str] = field(default_factory=list)
    steps: int = 0
    partial: bool = False  # published by a training run that is still going or was stopped early
    total_steps: int = 0  # the run's planned steps (a partial model has `steps` of them)
    created: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # method-specific (e.g. AC-GAN's target class)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelCard:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in d.items() if k in known}
        if "fully_convolutional" not in values:
            generator = (d.get("generators") or {}).get(d.get("default_generator", "AtoB")) or {}
            values["fully_convolutional"] = generator.get("class") not in _FIXED_SIZE_GENERATORS
        if "work_size" not in values and d.get("mode") == "frame" and "source" in (d.get("extra") or {}):
            values["work_size"] = PUBLISHED_WORK_SIZE  # imported before cards recorded it
        return cls(**values)


def builtin_card(name: str) -> ModelCard:
    if name == "identity":
        return ModelCard(
            name="identity",
            method="identity",
            mode="frame",
            size=None,
            generators={"AtoB": {"class": "IdentityGenerator", "kwargs": {}}},
        )
    raise ModelError(f"no built-in model {name!r}")


def resolve_model(name_or_path: str, models_dir: str | os.PathLike | None = None) -> Path | None:
    """A model folder for a name or a path; None for a built-in model."""
    if name_or_path in BUILTIN_MODELS and not Path(name_or_path).exists():
        return None
    path = Path(name_or_path)
    if path.is_dir() and (path / CARD_FILE).is_file():
        return path
    published = published_name(name_or_path)  # an alias such as van_gogh names the pulled style_vangogh
    for stored in (models_home(models_dir) / name_or_path, models_home(models_dir) / (published or name_or_path)):
        if (stored / CARD_FILE).is_file():
            return stored
    if published:
        raise ModelError(f"model {name_or_path!r} is not in {models_home(models_dir)}: fetch it with "
                         f"`vidswap models pull {published}`")  # fmt: skip
    raise ModelError(
        f"model {name_or_path!r} not found (looked for a folder with {CARD_FILE} there and in "
        f"{models_home(models_dir)}; "
        f"built-in: {', '.join(BUILTIN_MODELS)})"
    )


def shadowed_alias(name: str, models_dir: str | os.PathLike | None = None) -> str | None:
    """The published model whose alias `name` is, when `name` finds another model (one stored
    or trained under that name wins: resolve_model looks for it first); else None."""
    published = published_name(name)
    if published in (None, name):
        return None
    try:
        folder = resolve_model(name, models_dir)
    except ModelError:
        return None
    return published if folder != models_home(models_dir) / published else None


def read_card(folder: Path) -> ModelCard:
    try:
        return ModelCard.from_dict(json.loads((folder / CARD_FILE).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"unreadable model card {folder / CARD_FILE}: {exc}") from None


@dataclass
class Model:
    card: ModelCard
    folder: Path | None  # None for built-in models
    generators: dict[str, Any]  # name -> nn.Module in eval mode

    @property
    def generator(self):
        return self.generators[self.card.default_generator]


def load_model(name_or_path: str, models_dir: str | os.PathLike | None = None, device: str = "cpu") -> Model:
    """Load a model's card and generators (weights through safetensors: no code runs)."""
    folder = resolve_model(name_or_path, models_dir)
    card = builtin_card(name_or_path) if folder is None else read_card(folder)
    generators = {}
    for gen_name, spec in card.generators.items():
        net = build_network(spec)
        if folder is not None:
            load_weights(net, folder / f"{gen_name}.safetensors")
        generators[gen_name] = net.to(device).eval().requires_grad_(False)
    return Model(card=card, folder=folder, generators=generators)


def load_weights(net, weights: Path) -> None:
    """Load a generator's weights; a missing, damaged or mismatched file is one ModelError naming it."""
    try:
        state = load_file(str(weights))
    except FileNotFoundError:
        raise ModelError(f"{weights} is missing: the model folder is incomplete (pull or train it again)") from None
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"{weights} is damaged: not a complete safetensors file ({_first_line(exc)}); "
                         "pull or train the model again") from None  # fmt: skip
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:  # torch lists every mismatch, a line each: the first says enough
        detail = str(exc).splitlines()[1:2] or [str(exc)]
        raise ModelError(f"{weights} is damaged or from another model: its weights do not fit the network in "
                         f"{weights.parent / CARD_FILE} ({_first_line(detail[0])})") from None  # fmt: skip


def _first_line(error: object) -> str:
    return " ".join(str(error).split("\n", 1)[0].split())


def save_model(folder: Path, card: ModelCard, generators: dict[str, Any]) -> Path:
    """Write a model folder atomically: build it beside the target, then rename into place."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (tmp / CARD_FILE).write_text(json.dumps(asdict(card), indent=2))
        for gen_name, net in generators.items():
            state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
            save_file(state, str(tmp / f"{gen_name}.safetensors"))
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def list_models(models_dir: str | os.PathLike | None = None) -> list[tuple[Path | None, ModelCard]]:
    """Built-in models, then every model folder in the store."""
    found: list[tuple[Path | None, ModelCard]] = [(None, builtin_card(n)) for n in BUILTIN_MODELS]
    return found + [(folder, read_card(folder)) for folder in model_folders(models_dir)]
