"""apply throughput on a 720p clip: decode only, generator only (each backend), and the
whole streaming pipeline, with the pipeline / generator-only ratio (the pipeline should
hide decoding and encoding behind the model: target >= 0.9); then peak memory of apply
on a clip and on the same clip ten times longer (target: flat).

    uv run python scripts/bench_apply.py [--frames 40] [--ngf 8] [--blocks 2] [--backends torch,onnx]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.bench_io import make_clip  # noqa: E402
from vidswap.api import Translator, TranslatorSettings  # noqa: E402
from vidswap.models import ModelCard, save_model  # noqa: E402
from vidswap.nets.generators import ResnetGenerator  # noqa: E402
from vidswap.video import open_video  # noqa: E402


def save_generator(folder: Path, ngf: int, blocks: int) -> Path:
    torch.manual_seed(0)
    gen = ResnetGenerator(ngf=ngf, n_blocks=blocks)
    card = ModelCard(name=folder.name, method="cyclegan", mode="frame", size=256,
                     generators={"AtoB": {"class": "ResnetGenerator", "kwargs": gen.kwargs}})  # fmt: skip
    return save_model(folder, card, {"AtoB": gen})


def fps(frames: int, seconds: float) -> float:
    return frames / seconds if seconds else 0.0


def peak_rss_of_apply(model: Path, clip: Path, out: Path) -> float:
    """Peak resident memory (MB) of a fresh process applying the model to `clip`."""
    code = (
        "import resource, sys, json\n"
        "from vidswap.api import Translator, TranslatorSettings\n"
        f"translator = Translator(TranslatorSettings(model={str(model)!r}, backend='torch'))\n"
        f"translator.apply({str(clip)!r}, {str(out)!r}, overwrite=True)\n"
        "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--ngf", type=int, default=8)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--backends", default="torch,onnx")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip720.mp4"
        make_clip(clip, args.frames)
        model = save_generator(tmp / "gen", args.ngf, args.blocks)

        start = time.perf_counter()
        with open_video(clip) as reader:
            images = [f.image for f in reader]
        print(
            f"1280x720, {args.frames} frames; ResNet generator ngf {args.ngf}, {args.blocks} blocks, batch {args.batch}"
        )
        print(f"decode only: {fps(len(images), time.perf_counter() - start):.1f} frames/s")

        for backend in args.backends.split(","):
            translator = Translator(
                TranslatorSettings(model=str(model), backend=backend, batch=args.batch, mode="frame")
            )
            translator(images[: args.batch])  # build, export and check the backend outside the timing
            start = time.perf_counter()
            for i in range(0, len(images), args.batch):
                translator(images[i : i + args.batch])
            generator_fps = fps(len(images), time.perf_counter() - start)
            result = translator.apply(clip, tmp / f"out_{backend}.mp4", overwrite=True)
            print(f"{backend:>8}: generator only {generator_fps:6.2f} frames/s | pipeline {result.fps:6.2f} frames/s"
                  f" | ratio {result.fps / generator_fps:.2f}")  # fmt: skip

        if args.memory:
            long_clip = tmp / "clip720_x10.mp4"
            make_clip(long_clip, args.frames * 10)
            short_mb = peak_rss_of_apply(model, clip, tmp / "m1.mp4")
            long_mb = peak_rss_of_apply(model, long_clip, tmp / "m10.mp4")
            print(json.dumps({"peak_rss_mb": {f"{args.frames} frames": round(short_mb),
                                              f"{10 * args.frames} frames": round(long_mb)},
                              "ratio": round(long_mb / short_mb, 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
