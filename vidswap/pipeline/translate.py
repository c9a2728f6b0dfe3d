"""Running a model's generator on RGB uint8 images: full frames (at their own size, tiled
when large, or at a work size and brought back) or aligned face crops, through the chosen
inference backend. With `hold`, an instance-normalised generator's statistics are held
along a clip's frames (vidswap.nets.held_norm) on a backend that can (torch, ONNX Runtime)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vidswap.models import Model
from vidswap.nets import IdentityGenerator
from vidswap.nets.held_norm import HeldNorms, holds
from vidswap.pipeline.upsample import guided_upsample, shrink
from vidswap.runtime import create_backend, holds_statistics

# the ResNet generators downsample twice: image sides must be multiples of this
SIZE_MULTIPLE = 4
# A generator draws the outermost pixels of its picture differently (its convolutions' padding):
# a band that stays with the frame while the picture pans, which the temporal smoother then
# carried into the picture as a tone step (docs/temporal.md, "Where issue 23 stands").
# Whole frames are translated inside this much of their own reflection and the band is cropped
# away (at most a sixteenth of the shorter side). Not face crops: their edges are feathered away
# when pasted, and a margin would cost them a quarter more pixels.
EDGE_MARGIN = 16


def to_tensor(images: list[np.ndarray], device: str) -> torch.Tensor:
    batch = torch.from_numpy(np.stack(images)).to(device)
    return batch.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def to_images(batch: torch.Tensor) -> list[np.ndarray]:
    out = batch.float().clamp(-1, 1).add(1).mul(127.5).round().to("cpu").byte()
    return list(out.permute(0, 2, 3, 1).numpy())


class ImageTranslator:
    """Translates batches of same-sized images. The backend is made on the first batch,
    when the image size it must be exported/checked for is known. With a `work_size`, images
    whose shorter side is larger are translated with it at that size (see vidswap.pipeline.upsample).
    hold: the weight of the clip's history in the held instance-norm statistics (0: off); it
    applies to batches given `starts` (a clip's frames in order), and not to tiles.
    margin: of reflection around each image while it is translated (EDGE_MARGIN for frames)."""

    def __init__(self, model: Model, device: str = "cpu", backend: str = "auto", fp16: bool = False,
                 batch: int = 1, tile: int = 0, work_size: int | None = None, hold: float = 0.0,
                 margin: int = EDGE_MARGIN):  # fmt: skip
        self.model = model
        self.device = device
        self.backend_name = backend
        self.fp16 = fp16
        self.batch = batch
        self.tile = tile
        self.work_size = work_size
        self.identity = isinstance(model.generator, IdentityGenerator)
        self.holding = hold > 0 and holds(model.generator)
        if self.holding and not holds_statistics(backend, torch.device(device)):
            raise ValueError(f"the {backend} backend cannot hold statistics")
        self.hold = hold
        self.margin = margin
        self.backend = None
        # fully convolutional generators run at any size; others only at the model's
        self.fixed_size = None if model.card.fully_convolutional else (model.card.size, model.card.size)

    def __call__(self, images: list[np.ndarray], starts: list[bool] | None = None) -> list[np.ndarray]:
        """Translate `images`; `starts`: they are a clip's next frames, and which of them begin
        a scene (what the held statistics need; None: unrelated images)."""
        if self.identity or not images:
            return images
        height, width = images[0].shape[:2]
        if self.fixed_size:
            with torch.inference_mode():
                x = F.interpolate(to_tensor(images, self.device), size=self.fixed_size, mode="bilinear",
                                  align_corners=False, antialias=True)  # fmt: skip
                y = self._run(x, starts)
                return to_images(F.interpolate(y.float(), size=(height, width), mode="bilinear", align_corners=False))
        if self.work_size and min(height, width) > self.work_size:
            return self._at_work_size(images, starts)
        if self.tile and max(_round_up(height), _round_up(width)) > self.tile:
            return [self._tiled(image) for image in images]
        with torch.inference_mode():
            return to_images(self._run_framed(to_tensor(images, self.device), starts))

    def _at_work_size(self, images: list[np.ndarray], starts: list[bool] | None) -> list[np.ndarray]:
        height, width = images[0].shape[:2]
        scale = self.work_size / min(height, width)  # sides to the nearest multiple: the aspect barely changes
        size = tuple(max(1, round(side * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE for side in (height, width))
        with torch.inference_mode():
            x = to_tensor(images, self.device)
            small = shrink(x, size)
            if self.tile and max(size) > self.tile:
                translated = to_tensor([self._tiled(image) for image in to_images(small)], self.device)
            else:
                translated = self._run_framed(small, starts)
            return to_images(guided_upsample(x, small, translated))

    def _run(self, x, starts: list[bool] | None = None):
        if self.backend is None:
            self.backend = create_backend(
                HeldNorms(self.model.generator, self.hold) if self.holding else self.model.generator,
                self.backend_name,
                device=self.device,
                fp16=self.fp16,
                batch_sizes=(self.batch,),
                image_size=tuple(x.shape[2:]),
                model_folder=self.model.folder,
                generator_name=self.model.card.default_generator,
            )
        if self.holding and starts is not None:
            self.backend.restart(starts)
        return self.backend(x)

    def _run_framed(self, x: torch.Tensor, starts: list[bool] | None = None) -> torch.Tensor:
        return run_framed(lambda framed: self._run(framed, starts), x, self.margin)

    def _tiled(self, image: np.ndarray) -> np.ndarray:
        """Translate overlapping tiles and cross-fade them, for frames too large to run
        whole. Each tile is normalised on its own, so overlaps hide the seams; the frame's
        edges get the same margin as a whole frame (EDGE_MARGIN)."""
        height, width = image.shape[:2]
        top, bottom, left, right = _margins(height, width, self.margin)
        framed = np.pad(image, ((top, bottom), (left, right), (0, 0)), mode="reflect")
        tile = _round_up(self.tile)
        step = tile * 3 // 4
        ramp = np.minimum(np.arange(tile) + 1, tile - np.arange(tile)).astype(np.float32)
        weight = np.minimum(ramp[:, None], ramp[None, :])[..., None]
        fh, fw = framed.shape[:2]
        padded = np.pad(framed, ((0, max(0, tile - fh)), (0, max(0, tile - fw)), (0, 0)), mode="reflect")
        ph, pw = padded.shape[:2]
        acc = np.zeros((ph, pw, 3), np.float32)
        total = np.zeros((ph, pw, 1), np.float32)
        ys = sorted({*range(0, ph - tile, step), ph - tile})
        xs = sorted({*range(0, pw - tile, step), pw - tile})
        corners = [(y, x) for y in ys for x in xs]
        for first in range(0, len(corners), max(1, self.batch)):
            group = corners[first : first + max(1, self.batch)]
            outs = self._run_tiles([padded[y : y + tile, x : x + tile] for y, x in group])
            for (y, x), out in zip(group, outs):
                acc[y : y + tile, x : x + tile] += out.astype(np.float32) * weight
                total[y : y + tile, x : x + tile] += weight
        return np.clip(acc / total + 0.5, 0, 255).astype(np.uint8)[top : top + height, left : left + width]

    def _run_tiles(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        with torch.inference_mode():
            return to_images(self._run(to_tensor(tiles, self.device)))


def run_framed(run, x: torch.Tensor, margin: int = EDGE_MARGIN) -> torch.Tensor:
    """`run` (a generator, a backend) on the NCHW images `x` inside a `margin` of their own
    reflection, which also brings their sides to multiples of SIZE_MULTIPLE; the margin is
    cropped off the result."""
    height, width = x.shape[2:]
    top, bottom, left, right = _margins(height, width, margin)
    mode = "reflect" if max(top, bottom) < height and max(left, right) < width else "replicate"
    y = run(F.pad(x, (left, right, top, bottom), mode=mode))
    return y[..., top : top + height, left : left + width]


def _round_up(n: int) -> int:
    return -(-n // SIZE_MULTIPLE) * SIZE_MULTIPLE


def _margins(height: int, width: int, margin: int) -> tuple[int, int, int, int]:
    """Top, bottom, left and right margins: `margin` (at most a sixteenth of the shorter
    side), the bottom and right ones widened to make the sides multiples of SIZE_MULTIPLE."""
    margin = min(margin, min(height, width) // 16)
    bottom = margin + _round_up(height + 2 * margin) - (height + 2 * margin)
    right = margin + _round_up(width + 2 * margin) - (width + 2 * margin)
    return margin, bottom, margin, right
