"""The GPU estimate of docs/gpu.md, on paper: FLOPs counted with torch.utils.flop_counter, turned
into steps/s and frames/s at an assumed share of an H200's peak.

    uv run python scripts/gpu_estimate.py [--fraction-train 0.15] [--fraction-apply 0.35]

Training: one whole vidswap iteration of each method (forward and backward of every network,
as `train_step` runs it) at the papers' settings (256 px, batch 1; AC-GAN 64 px, batch 64; the
face-swap autoencoder 64 px, batch 16, as configs/autoencoder.yaml), counted on the CPU at a
quarter of the side (the networks are convolutional: FLOPs scale with the pixels) and scaled up;
the two 64 px methods, whose dense layers fix their size, at their size and an eighth of the
batch. Apply: the paper generator (ResNet-9, ngf 64) on one 1080x1920 frame, counted on the
meta device (shapes only). Only convolutions and matrix products count.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.config import load_config  # noqa: E402
from trainer.methods import method_spec  # noqa: E402
from trainer.runtime import Runtime  # noqa: E402
from vidswap.nets import ResnetGenerator  # noqa: E402

# (method, crop, batch) as the papers train; counted at crop / SCALE, batch / BATCH_SCALE
CASES = [("cyclegan", 256, 1), ("cut", 256, 1), ("fastcut", 256, 1), ("acgan", 64, 64), ("autoencoder", 64, 16)]
FIXED_SIZE = ("acgan", "autoencoder")  # dense layers: counted at their own size
SCALE = 4
PEAK_TFLOPS = {"bf16": 989.0, "tf32": 494.0}  # H200 dense tensor-core peaks (NVIDIA's data sheet)


class OpCounter(TorchDispatchMode):
    """Counts the aten operators a step runs: in eager mode each is about one kernel launch,
    whose host-side cost (the dispatcher, Python, the launch) bounds a small step's rate."""

    def __init__(self):
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def count(fn) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return float(counter.get_total_flops())


def train_flops(method: str, crop: int, batch: int) -> float:
    small = crop if method in FIXED_SIZE else crop // SCALE
    counted_batch = max(1, batch // 8) if method in FIXED_SIZE else batch
    cfg = load_config(method, [], [f"data.size={small}", f"train.batch_size={counted_batch}", "net.antialias=false"])
    torch.manual_seed(0)
    m = method_spec(method).build(cfg, Runtime(device=torch.device("cpu")))
    batch_of = {side: torch.rand(counted_batch, 3, small, small) * 2 - 1 for side in "AB"}
    m.train_step(batch_of, 1)  # the first step may set things up
    flops = count(lambda: m.train_step(batch_of, 2))
    with OpCounter() as ops:
        m.train_step(batch_of, 3)
    return flops * (crop / small) ** 2 * (batch / counted_batch), ops.ops


def apply_flops(height: int, width: int) -> float:
    with torch.device("meta"):
        generator = ResnetGenerator(ngf=64, n_blocks=9).eval()
        x = torch.empty(1, 3, height, width)
        with torch.no_grad():
            return count(lambda: generator(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction-train", type=float, default=0.15, help="share of peak a training step reaches")
    parser.add_argument("--fraction-apply", type=float, default=0.35, help="share of peak a 1080p frame reaches")
    parser.add_argument("--us-per-op", type=float, default=10.0, help="host-side microseconds an eager operator costs")
    args = parser.parse_args()
    peaks = ", ".join(f"{name} {tflops:.0f}" for name, tflops in PEAK_TFLOPS.items())
    print(f"torch {torch.__version__}; H200 dense peaks assumed (TFLOP/s): {peaks}; shares: training "
          f"{args.fraction_train}, apply {args.fraction_apply}; {args.us_per_op:.0f} us an operator\n")  # fmt: skip
    print("| method | crop, batch | GFLOP an iteration | operators | bound by operators, it/s "
          "| bound by FLOPs, TF32 / bf16, it/s | estimate TF32 / bf16, it/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for method, crop, batch in CASES:
        flops, ops = train_flops(method, crop, batch)
        host = ops * args.us_per_op * 1e-6  # the GPU works while the host launches: the larger bounds the step
        gpu = [flops / (PEAK_TFLOPS[p] * 1e12 * args.fraction_train) for p in ("tf32", "bf16")]
        est = [1 / max(host, g) for g in gpu]
        print(f"| {method} | {crop}, {batch} | {flops / 1e9:.0f} | {ops} | {1 / host:.0f} | "
              f"{1 / gpu[0]:.0f} / {1 / gpu[1]:.0f} | {est[0]:.0f} / {est[1]:.0f} |")  # fmt: skip
    flops = apply_flops(1080, 1920)
    print(f"\npaper generator, one 1080x1920 frame: {flops / 1e12:.2f} TFLOP")
    for label, peak in (("fp32 (TF32)", "tf32"), ("fp16/bf16", "bf16")):
        print(f"  {label}: {PEAK_TFLOPS[peak] * 1e12 * args.fraction_apply / flops:.0f} frames/s at the assumed share")


if __name__ == "__main__":
    main()
