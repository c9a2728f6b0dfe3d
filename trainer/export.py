"""A trained method -> a model folder in the store (generators + the card that rebuilds them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainer.config import Config
from trainer.data import UnpairedSampler, training_augment
from trainer.methods import method_spec
from trainer.methods.base import Method
from vidswap.models import ModelCard, save_model
from vidswap.nets import network_spec


def refresh_batch_norm(cfg: Config, method: Method, images_a: list[Path], images_b: list[Path]) -> None:
    """Recompute the generators' batch-norm statistics with their final weights ("precise BN",
    Wu & Johnson 2021). The running averages kept while training mix in statistics of earlier
    weights; at a high learning rate these differ enough to shift a translation's tone and
    contrast (docs/demo.md). Each generator sees train.bn_refresh batches of its own input domain.
    Not under torchrun: synchronised batch norm would wait for the other processes."""
    if cfg.train.bn_refresh == 0 or not method_spec(cfg.method).fully_convolutional or method.rt.distributed:
        return
    nets = method.export()
    norms = {name: [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)] for name, net in nets.items()}
    refreshed = [name for name in nets if norms[name]]
    if not refreshed:
        return
    kept = {name: ([m.momentum for m in norms[name]], nets[name].training) for name in refreshed}
    for name in refreshed:
        for m in norms[name]:
            m.reset_running_stats()
            m.momentum = None  # a plain average over the batches, not an exponential one
        nets[name].train()
    sampler = UnpairedSampler(images_a, images_b, training_augment(cfg.data), cfg.train.batch_size, cfg.train.seed + 1)
    with torch.no_grad(), method.rt.autocast():
        for i in range(cfg.train.bn_refresh):
            batch = sampler.batch(i)  # one load of both domains serves every generator
            for name in refreshed:
                nets[name](method.rt.inputs(batch[name[0]]))  # "AtoB" reads A, "BtoA" reads B
    for name, (momenta, was_training) in kept.items():
        for m, momentum in zip(norms[name], momenta, strict=True):
            m.momentum = momentum
        nets[name].train(was_training)


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
