"""A non-identity model with a known answer, in seconds: the demo's generator (ngf 8, 2 blocks,
batch norm, strided convolutions) fitted by L1 to the demo's sepia grade on the demo's photo
crops (paired, so a few hundred steps do; the demo's CycleGAN needs minutes of an idle CPU).

For benchmarks that need a translation that flickers and whose truth is known
(scripts/bench_temporal.py): fitted briefly, the net is close to the grade (PSNR against it is
printed) but not exactly it, and its residual error changes with sub-pixel shifts of the input
as a GAN generator's does, so its output flickers more than its input.

    uv run python scripts/known_answer_model.py -o /tmp/sepia-model [--steps 400] [--mode face]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidswap.demo import SCALE, crops, photos  # noqa: E402
from vidswap.demo import transform as sepia  # noqa: E402
from vidswap.metrics import psnr  # noqa: E402
from vidswap.models import ModelCard, save_model  # noqa: E402
from vidswap.nets.generators import ResnetGenerator  # noqa: E402


def tensor(batch: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", type=Path, required=True, help="model folder to write")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--size", type=int, default=32, help="training crop side (the demo's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mode", choices=["frame", "face"], default="frame", help="what `vidswap apply` does with it")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_photos, held_out = photos()
    images = crops(train_photos, 400, args.size, rng, SCALE)
    test = crops([held_out], 64, args.size, rng, SCALE)
    x, y = tensor(images), tensor([sepia(im) for im in images])
    generator = ResnetGenerator(ngf=8, n_blocks=2, norm="batch")
    optimiser = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    began = time.perf_counter()
    for _ in range(args.steps):
        pick = torch.from_numpy(rng.integers(len(images), size=4))
        loss = (generator(x[pick]) - y[pick]).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    generator.eval()
    with torch.no_grad():
        out = ((generator(tensor(test)).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    truth = np.stack([sepia(t) for t in test])
    card = ModelCard(
        name=args.output.name, method="cyclegan", mode=args.mode, size=args.size, steps=args.steps,
        generators={"AtoB": {"class": "ResnetGenerator", "kwargs": generator.kwargs}},
        extra={"fitted_to": "the demo's sepia grade (scripts/known_answer_model.py)"},
    )  # fmt: skip
    save_model(args.output, card, {"AtoB": generator})
    print(
        f"{args.output}: {args.steps} steps in {time.perf_counter() - began:.0f} s; held-out crops "
        f"{psnr(out, truth):.2f} dB against the grade (input itself {psnr(np.stack(test), truth):.2f} dB)"
    )


if __name__ == "__main__":
    main()
