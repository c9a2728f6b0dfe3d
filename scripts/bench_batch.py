"""Batch throughput: files/s and frames/s of `vidswap batch` with --workers 1, --workers 2
and --ray (a local cluster of --workers CPUs) on one generated library.

    uv run python scripts/bench_batch.py [--files 24] [--frames 60] [--size 320x240]
        [--model identity|resnet] [--modes "workers 1,workers 2"] [--rounds 2]

--model resnet: a random ResNet generator (ngf 16, 3 blocks) run by the default backend
(ONNX Runtime on CPU), so inference is part of the work; identity: decoding and encoding
only. Each mode converts the same library into a fresh folder, timed end to end as a user
runs it (process start, model loading, Ray start-up included) and by the manifest's
per-file conversion seconds; rounds alternate the order of the modes (the machine may be
shared); the scaling ratio is the best wall time of --workers 1 over the mode's."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from skimage import data  # noqa: E402
from skimage.transform import resize  # noqa: E402

from tests.helpers import make_video, panned_frames  # noqa: E402
from vidswap.models import ModelCard, save_model  # noqa: E402
from vidswap.nets import ResnetGenerator  # noqa: E402
from vidswap.pipeline.manifest import Manifest  # noqa: E402

MODES = {"workers 1": ["--workers", "1"], "workers 2": ["--workers", "2"], "ray (2 CPUs)": ["--ray", "--workers", "2"]}


def make_library(root: Path, files: int, frames: int, width: int, height: int) -> int:
    image = (resize(data.astronaut(), (height + 3 * frames, width + 3 * frames)) * 255).astype("uint8")
    for i in range(files):
        path = root / f"set{i % 3}" / f"clip{i:03d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        make_video(path, panned_frames(frames, width, height, image), audio_seconds=1.0 if i % 2 else 0)
    return files * frames


def make_resnet_model(folder: Path) -> str:
    generator = ResnetGenerator(ngf=16, n_blocks=3)
    card = ModelCard(name="bench", method="cyclegan", mode="frame", size=None,
                     generators={"AtoB": {"class": "ResnetGenerator", "kwargs": generator.kwargs}})  # fmt: skip
    return str(save_model(folder, card, {"AtoB": generator}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--model", choices=("identity", "resnet"), default="identity")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, of: " + ", ".join(MODES))
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    modes = args.modes.split(",")
    vidswap = str(Path(sys.executable).with_name("vidswap"))
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        library = Path(tmp) / "library"
        total_frames = make_library(library, args.files, args.frames, width, height)
        model = make_resnet_model(Path(tmp) / "model") if args.model == "resnet" else "identity"
        print(f"library: {args.files} files, {total_frames} frames, {width}x{height}, {args.model} model, "
              f"preset medium, {os.cpu_count()} cores")  # fmt: skip
        results: dict[str, list[float]] = {name: [] for name in modes}
        for round_ in range(args.rounds):
            for name in modes if round_ % 2 == 0 else reversed(modes):
                out = Path(tmp) / f"{name.replace(' ', '_')}_{round_}"
                began = time.perf_counter()
                subprocess.run([vidswap, "-q", "batch", str(library), "-o", str(out), "--model", model,
                                *MODES[name]], check=True, stderr=subprocess.DEVNULL)  # fmt: skip
                wall = time.perf_counter() - began
                with Manifest(out, lock=False) as manifest:
                    entries = manifest.entries()
                assert all(e.state == "done" for e in entries) and sum(e.frames for e in entries) == total_frames
                busy = sum(e.seconds for e in entries)
                results[name].append(wall)
                print(f"{name:>13}: {wall:6.1f} s wall, {args.files / wall:5.2f} files/s, {total_frames / wall:6.1f} "
                      f"frames/s; conversion alone {total_frames / busy:6.1f} frames/s a worker")  # fmt: skip
        base = min(results[modes[0]])
        for name in modes[1:]:
            print(f"scaling {name} / {modes[0]}: {base / min(results[name]):.2f}x (best of {args.rounds})")


if __name__ == "__main__":
    main()
