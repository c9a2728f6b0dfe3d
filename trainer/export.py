"""A trained method -> a model folder in the store (generators + the card that rebuilds them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from trainer.config import Config
from trainer.methods import method_spec
from trainer.methods.base import Method
from vidswap.models import ModelCard, save_model
from vidswap.nets import network_spec


def save_trained_model(
    folder: Path, name: str, cfg: Config, method: Method, steps: int, data: dict[str, Any], partial: bool = False
) -> Path:
    """Write (or atomically replace) the model folder. A partial model comes from a run still
    training or stopped early: its card says so, with the step and the run's total."""
    generators = method.export()
    card = ModelCard(
        name=name,
        method=cfg.method,
        mode=cfg.data.mode,
        size=cfg.data.size,
        generators={k: network_spec(g) for k, g in generators.items()},
        default_generator="AtoB",
        domains=[data["A"]["name"], data["B"]["name"]],
        steps=steps,
        partial=partial,
        total_steps=cfg.train.steps if partial else steps,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        data=data,
        extra={"config": cfg.to_dict()},
        fully_convolutional=method_spec(cfg.method).fully_convolutional,
    )
    return save_model(folder, card, generators)
