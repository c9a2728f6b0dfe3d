"""A tiny random ResNet generator saved as a model folder: the real architecture
(reflection padding, instance norm, transposed convolutions) at a size CPU tests afford."""

from __future__ import annotations

import pytest
import torch

from vidswap.models import ModelCard, load_model, save_model
from vidswap.nets import ResnetGenerator

TINY = {"ngf": 4, "n_blocks": 1}


def save_tiny_model(folder, seed: int = 0):
    torch.manual_seed(seed)
    card = ModelCard(
        name=folder.name, method="cyclegan", mode="frame", size=64,
        generators={"AtoB": {"class": "ResnetGenerator", "kwargs": TINY}},
    )  # fmt: skip
    save_model(folder, card, {"AtoB": ResnetGenerator(**TINY)})
    return load_model(str(folder))


@pytest.fixture
def tiny_model(tmp_path):
    return save_tiny_model(tmp_path / "tiny")


@pytest.fixture
def images():
    """A batch of 3 image-like inputs in [-1, 1] at a size that is not square."""
    torch.manual_seed(1)
    base = torch.linspace(-1, 1, 80).view(1, 1, 1, 80) * torch.linspace(-1, 1, 48).view(1, 1, 48, 1)
    return (base + 0.3 * torch.randn(3, 3, 48, 80)).clamp(-1, 1)
