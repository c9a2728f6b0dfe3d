"""A trained method -> a model folder in the store (generators + the card that rebuilds them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from vidswap.config import Config
from vidswap.models import ModelCard, save_model


def save_trained_model(folder: Path, name: str, cfg: Config, method, steps: int, data: dict[str, Any]) -> Path:
    generators = method.export()
    card = ModelCard(
        name=name,
        method=cfg.method,
        mode=cfg.data.mode,
        size=cfg.data.size,
        generators={k: {"class": type(g).__name__, "kwargs": g.kwargs} for k, g in generators.items()},
        default_generator="AtoB",
        domains=[data["A"]["name"], data["B"]["name"]],
        steps=steps,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        data=data,
        # ResNet generators are fully convolutional (any input size); the AC-GAN translator resizes to `size`
        extra={"fully_convolutional": cfg.method != "acgan", "config": cfg.to_dict()},
    )
    return save_model(folder, card, generators)
