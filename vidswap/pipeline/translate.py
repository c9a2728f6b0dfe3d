"""Turn a loaded model into a function over batches of RGB uint8 frames."""

from __future__ import annotations

import numpy as np

from vidswap.models import Model
from vidswap.nets import IdentityGenerator
from vidswap.pipeline.apply import Translate

# the ResNet generators downsample twice: frame sides must be multiples of this
SIZE_MULTIPLE = 4


def to_tensor(images: list[np.ndarray], device: str):
    import torch

    batch = torch.from_numpy(np.stack(images)).to(device)
    return batch.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def to_images(batch) -> list[np.ndarray]:
    out = batch.clamp(-1, 1).add(1).mul(127.5).round().to("cpu").byte()
    return list(out.permute(0, 2, 3, 1).numpy())


def frame_translator(model: Model, device: str = "cpu") -> Translate:
    """Full-frame translation. Fully convolutional generators run at the frame's own size
    rounded to a multiple of SIZE_MULTIPLE; fixed-size ones at the model's size."""
    generator = model.generator
    if isinstance(generator, IdentityGenerator):
        return lambda images: images

    import torch
    import torch.nn.functional as F

    def translate(images: list[np.ndarray]) -> list[np.ndarray]:
        height, width = images[0].shape[:2]
        if model.card.size and not model.card.extra.get("fully_convolutional", True):
            size = (model.card.size, model.card.size)
        else:
            size = (_round_up(height), _round_up(width))
        with torch.inference_mode():
            x = to_tensor(images, device)
            if size != (height, width):
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
            y = generator(x)
            if size != (height, width):
                y = F.interpolate(y, size=(height, width), mode="bilinear", align_corners=False)
        return to_images(y)

    return translate


def _round_up(n: int) -> int:
    return -(-n // SIZE_MULTIPLE) * SIZE_MULTIPLE
