"""A tiny random ResNet generator saved as a model folder: the real architecture
(reflection padding, instance norm, transposed convolutions) at a size CPU tests afford."""

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
