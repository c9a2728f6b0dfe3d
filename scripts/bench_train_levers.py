"""What limits a CPU training step, and what the remaining levers are worth (docs/bench_train.md).

    uv run python scripts/bench_train_levers.py [--size 128] [--threads 2] [--no-compile]

Three measurements, each of the same work both ways in this one run:

1. where one whole vidswap iteration's CPU time goes (torch's profiler): the share of the
   convolutions, forward and backward, against everything else;
2. one ResNet generator (ngf 64, 9 blocks, the papers') trained on two images in one call
   against two calls of one image (what batching passes together can save);
3. the same generator's training pass eager against torch.compile (inductor), with the
   compile time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench_train.py: no spinning on a shared machine

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_train import make_images, vidswap_iteration  # noqa: E402

from vidswap.nets.generators import ResnetGenerator  # noqa: E402

CONVOLUTIONS = {"aten::mkldnn_convolution": "forward", "aten::convolution_backward": "backward"}


def convolution_share(method: str, size: int, threads: int) -> dict[str, float]:
    """Self CPU seconds of one profiled iteration: convolutions forward, backward, and the rest."""
    from torch.profiler import ProfilerActivity, profile

    with tempfile.TemporaryDirectory() as tmp:
        make_images(Path(tmp), size)
        options = argparse.Namespace(antialias=False, loaders=None, device="cpu", amp_one="off", threads=threads)
        iteration = vidswap_iteration(method, size, 1, options, Path(tmp))
        for _ in range(2):
            iteration()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            iteration()
    parts = {"forward": 0.0, "backward": 0.0, "rest": 0.0}
    for event in prof.key_averages():
        parts[CONVOLUTIONS.get(event.key, "rest")] += event.self_cpu_time_total / 1e6
    return parts


def seconds_per_pass(step, repeats: int = 4) -> float:
    for _ in range(2):
        step()
    began = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - began) / repeats


def training_pass(generator, images: list[torch.Tensor]):
    def step() -> None:
        for x in images:
            generator(x).square().mean().backward()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (minutes to compile)")
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    print(f"crop {a.size}, {a.threads} threads, torch {torch.__version__}, {os.cpu_count()} CPUs")

    print("\n| method | convolutions forward (CPU s) | backward | everything else | convolutions' share |")
    print("|---|---|---|---|---|")
    for method in ("cyclegan", "cut", "fastcut"):
        p = convolution_share(method, a.size, a.threads)
        share = (p["forward"] + p["backward"]) / sum(p.values())
        print(f"| {method} | {p['forward']:.2f} | {p['backward']:.2f} | {p['rest']:.2f} | {share:.0%} |")

    generator = ResnetGenerator(ngf=64, n_blocks=9)
    two = torch.randn(2, 3, a.size, a.size)
    together = seconds_per_pass(training_pass(generator, [two]))
    apart = seconds_per_pass(training_pass(generator, list(two.split(1))))
    print(f"\ngenerator forward+backward, two images: one call {together:.3f} s, two calls {apart:.3f} s")
    print(f"  -> batching saves {1 - together / apart:.0%}")

    if not a.no_compile:
        eager = seconds_per_pass(training_pass(generator, [two]))
        began = time.perf_counter()
        compiled = torch.compile(generator)
        training_pass(compiled, [two])()
        compile_s = time.perf_counter() - began
        fast = seconds_per_pass(training_pass(compiled, [two]))
        print(f"torch.compile: {compile_s:.0f} s to compile; {fast:.3f} s a pass against {eager:.3f} s eager")
        print(f"  -> {eager / fast:.2f}x")


if __name__ == "__main__":
    main()
