"""Generator-only throughput of each inference backend (no decode, no encode).

    uv run python scripts/bench_backends.py [--sizes 256x256 720x1280] [--nets tiny paper]
        [--backends torch compile onnx] [--device cpu] [--batch 1] [--seconds 10] [--held]

Frames/s of backend(x) on a random batch, after one untimed call (which for `compile`
includes compiling: reported apart as setup time). Results are printed as a Markdown
table for docs/bench_runtime.md. A backend that fails gets a row saying so, the others run on;
the exit code is then 1. `--held` adds, for each backend that can hold them, the generator
with its instance-norm statistics held along a clip (`--hold-norm`, HeldNorms; each batch
continues the clip), beside the plain one in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from vidswap.nets import ResnetGenerator
from vidswap.nets.held_norm import HeldNorms
from vidswap.runtime import REGISTRY, create_backend
from vidswap.settings import HOLD_NORM

NETS = {
    "tiny": {"ngf": 4, "n_blocks": 1},  # the test models
    "paper": {"ngf": 64, "n_blocks": 9},  # CycleGAN's ResNet-9, 11.4 M parameters
}


def measure(backend, x: torch.Tensor, seconds: float, held: bool = False) -> float:
    """Frames per second over at least `seconds` (and at least 2 calls)."""
    calls, start = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < seconds:
        if held:
            backend.restart([False] * x.shape[0])  # the clip goes on: the statistics are held
        backend(x)
        if x.is_cuda:
            torch.cuda.synchronize()
        calls += 1
    return calls * x.shape[0] / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["256x256", "720x1280"], help="HEIGHTxWIDTH")
    parser.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    parser.add_argument("--backends", nargs="+", default=["torch", "compile", "onnx"], choices=list(REGISTRY))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0, help="timing window per case")
    parser.add_argument("--held", action="store_true", help="also with the instance-norm statistics held")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, batch {args.batch}")
    failed = False
    print("| generator | size | backend | setup s | frames/s |")
    print("|---|---|---|---|---|")
    for net_name in args.nets:
        torch.manual_seed(0)
        generator = ResnetGenerator(**NETS[net_name]).eval()
        for size in args.sizes:
            height, width = (int(v) for v in size.split("x"))
            x = (torch.rand(args.batch, 3, height, width) * 2 - 1).to(args.device)
            cases = [(name, False) for name in args.backends]
            cases += [(name, True) for name in args.backends if args.held and REGISTRY[name].holds_statistics]
            for name, held in cases:
                held_mark = ", held" if held else ""
                try:
                    start = time.perf_counter()
                    net = HeldNorms(generator, HOLD_NORM) if held else generator
                    backend = create_backend(net, name, device=args.device, fp16=args.fp16, verify=False,
                                             batch_sizes=(args.batch,), image_size=(height, width))  # fmt: skip
                    backend(x)  # first call: compiles / allocates
                    setup = time.perf_counter() - start
                    fps = measure(backend, x, args.seconds, held)
                except Exception as exc:  # noqa: BLE001 (one backend's failure is its row's, the table goes on)
                    failed = True
                    error = f"{type(exc).__name__}: {exc}".splitlines()[0].replace("|", "/")
                    print(f"| {net_name} | {height}x{width} | {name}{held_mark} | failed: {error} | |", flush=True)
                    continue
                print(f"| {net_name} | {height}x{width} | {backend.describe()}{held_mark} | {setup:.1f} | {fps:.3f} |",
                      flush=True)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
