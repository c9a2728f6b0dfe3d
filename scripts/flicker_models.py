"""Generators that flicker hard, for scripts/bench_temporal.py: real GANs trained briefly with
vidswap's own trainer on real footage (the ASL clips of ../shared/footage), domain B being
other clips through the demo's sepia grade, so the known answer of a translation is
sepia(input). Briefly trained instance-norm generators are what flickers most in practice
(docs/temporal.md); these are them:

- cyclegan-tconv: CycleGAN, the reference layout (strided and transposed convolutions,
  instance norm), 2 downsamplings;
- cyclegan-aa: CycleGAN with CUT's anti-aliased sampling, instance norm;
- fastcut: FastCUT, anti-aliased (the method's default), instance norm.

Weights are cached outside the repository (default /work/bench-models; nothing here is
committed). Each model trains a fixed number of steps from a fixed seed (STEPS: about 4 minutes
each on an idle 2-core CPU), so the bench's models are the same on every machine; `--minutes`
trains for a wall-clock time instead (then how far they get depends on the machine and its load).

    uv run python scripts/flicker_models.py -o /work/bench-models [--only fastcut]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.config import load_config  # noqa: E402
from trainer.data import collect_images  # noqa: E402
from trainer.export import save_trained_model  # noqa: E402
from trainer.loop import train  # noqa: E402
from vidswap.demo import train_for  # noqa: E402
from vidswap.demo import transform as sepia  # noqa: E402
from vidswap.video import open_video  # noqa: E402

COMMON = [
    "data.size=128",
    "data.load_size=144",
    "net.ngf=16",
    "net.ndf=16",
    "net.n_blocks=3",
    "net.norm=instance",
    "train.lr=5e-4",
    "train.batch_size=1",
    "cut.num_patches=64",
    "cut.mlp_units=64",
    "data.loader_threads=1",
    "train.log_every=50",
    "train.sample_every=1000000",
    "train.checkpoint_every=1000000",
]
# steps a model: what 4 minutes of training reached on an idle 2-core CPU (2026-12-04)
STEPS = {"cyclegan-tconv": 600, "cyclegan-aa": 400, "fastcut": 1200}
MODELS = {
    "cyclegan-tconv": ("cyclegan", ["net.antialias=false"]),
    "cyclegan-aa": ("cyclegan", ["net.antialias=true"]),
    "fastcut": ("fastcut", ["net.antialias=true", "cut.nce_layers=[0,4,8,12,13]"]),
}


def write_domains(footage: Path, folder: Path) -> tuple[list[Path], list[Path]]:
    """Every 4th frame of the ASL clips, 192x144: even clips as they are (A), odd ones graded (B)."""
    for side in "AB":
        (folder / side).mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(sorted((footage / "asl").glob("*.mkv"))):
        side = "AB"[i % 2]
        with open_video(clip) as reader:
            for j, frame in enumerate(reader):
                if j % 4:
                    continue
                image = np.asarray(Image.fromarray(frame.image).resize((192, 144), Image.Resampling.BILINEAR))
                Image.fromarray(sepia(image) if side == "B" else image).save(folder / side / f"{clip.stem}_{j:03d}.png")
    return collect_images([str(folder / "A")]), collect_images([str(folder / "B")])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", type=Path, default=Path("/work/bench-models"))
    p.add_argument("--footage", type=Path, default=Path(__file__).resolve().parents[2] / "shared/footage")
    p.add_argument("--minutes", type=float, help="train each model for this wall-clock time instead of STEPS")
    p.add_argument("--only", nargs="*", help="only these models")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    images_a, images_b = write_domains(args.footage, args.output / "data")
    print(f"data: {len(images_a)} A, {len(images_b)} B images", flush=True)
    for name, (method, extra) in MODELS.items():
        if args.only and name not in args.only:
            continue
        steps = 100000 if args.minutes else STEPS[name]
        cfg = load_config(method, [], COMMON + extra + [f"train.steps={steps}", f"train.seed={args.seed}"])
        began, run_dir = time.perf_counter(), args.output / "runs" / name
        if args.minutes:
            result = train_for(cfg, images_a, images_b, run_dir, args.minutes * 60)
        else:
            result = train(cfg, images_a, images_b, run_dir, show_progress=False)
        data = {"A": {"name": "asl", "images": len(images_a)}, "B": {"name": "asl_sepia", "images": len(images_b)}}
        save_trained_model(args.output / name, name, cfg, result.method, result.step, data)
        print(f"{name}: {result.step} steps in {time.perf_counter() - began:.0f} s -> {args.output / name}", flush=True)


if __name__ == "__main__":
    main()
