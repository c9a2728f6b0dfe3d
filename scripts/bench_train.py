"""Training speed and peak memory per method, at the papers' configuration and a small one.

Each case runs in its own process (peak RSS is per process): real data loading from
JPEGs, `warmup` untimed steps, then `steps` timed steps of the method's train_step.

    uv run python scripts/bench_train.py [--threads 2] [--device cpu|cuda] [--amp off bf16 ...]
    uv run python scripts/bench_train.py --one cut 128 off     (a single case, JSON out)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (method, crop size, batch): the papers' configuration is 256 px, batch 1 (AC-GAN: 64 px, batch 64);
# 128 px matches the official code's figures in design.md
CASES = [
    ("cyclegan", 128, 1),
    ("cut", 128, 1),
    ("fastcut", 128, 1),
    ("cyclegan", 256, 1),
    ("cut", 256, 1),
    ("fastcut", 256, 1),
    ("acgan", 64, 64),
]
# the official code's CPU seconds per iteration (design.md, mean of two runs): crop 128 and 256
OFFICIAL = {
    ("cyclegan", 128): 3.165,
    ("cut", 128): 2.415,
    ("fastcut", 128): 1.31,
    ("cyclegan", 256): 15.5,
    ("cut", 256): 9.25,
    ("fastcut", 256): 4.75,
}
OFFICIAL_NOTE = {"cyclegan": "official run as that repo runs it at 256 (anti-aliased); 128: original design"}


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def one(method: str, size: int, batch: int, amp: str, device: str, threads: int, warmup: int, steps: int) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from trainer.config import load_config
    from trainer.data import Augment, UnpairedSampler
    from trainer.methods import method_spec
    from trainer.runtime import make_runtime

    cfg = load_config(
        method,
        [],
        [f"data.size={size}", "data.load_size=0", f"train.batch_size={batch}", f"train.steps={warmup + steps}"],
    )
    rt = make_runtime(device, amp, True, threads)
    torch.manual_seed(0)
    m = method_spec(method).build(cfg, rt)
    rng = np.random.default_rng(0)
    folder = Path(tempfile.mkdtemp(prefix="vidswap-bench-"))
    paths = []
    for i in range(8):
        p = folder / f"{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (round(size * 1.3), round(size * 1.6), 3), dtype=np.uint8)).save(p)
        paths.append(p)
    sampler = UnpairedSampler(paths, paths, Augment(size, round(size * 286 / 256), True), batch, 0)
    # AC-GAN: time its (costlier) GAN step; the encoder step is a fraction of it
    times, cpu = [], []
    for step, b in sampler.batches(0, warmup + steps, threads=1):
        t0, c0 = time.perf_counter(), _cpu_seconds()
        m.train_step(b, step)
        rt.end_iteration()
        if rt.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        cpu.append(_cpu_seconds() - c0)
    timed = times[warmup:]
    gpu_peak = torch.cuda.max_memory_allocated() / 2**30 if rt.device.type == "cuda" else None
    return {
        "method": method,
        "size": size,
        "batch": batch,
        "amp": amp,
        "device": str(rt.device),
        "threads": threads,
        "s_per_it": sum(timed) / len(timed),
        "it_per_s": len(timed) / sum(timed),
        # CPU time a step: unlike wall time, barely inflated when other work shares the cores
        "cpu_s_per_it": sum(cpu[warmup:]) / len(timed),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "gpu_peak_gb": gpu_peak,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--one", nargs=3, metavar=("METHOD", "SIZE", "AMP"))
    p.add_argument("--batch", type=int, default=0, help="with --one: batch size (default: the case's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", nargs="+", default=["off"], help="precisions to run: off bf16 fp16")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--cases", nargs="*", help="only these methods")
    p.add_argument("--json", type=Path, help="write all results here")
    args = p.parse_args()
    if args.one:
        method, size, amp = args.one[0], int(args.one[1]), args.one[2]
        batch = args.batch or next((b for m, s, b in CASES if m == method and s == size), 1)
        print(json.dumps(one(method, size, batch, amp, args.device, args.threads, args.warmup, args.steps)))
        return
    results = []
    print(
        "| method | crop | batch | precision | s/it (wall) | it/s | CPU s/it | peak RSS GB "
        "| official s/it | speed-up (wall) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for method, size, batch in CASES:
        if args.cases and method not in args.cases:
            continue
        for amp in args.amp:
            cmd = [
                sys.executable,
                __file__,
                "--one",
                method,
                str(size),
                amp,
                "--batch",
                str(batch),
                "--device",
                args.device,
                "--threads",
                str(args.threads),
                "--warmup",
                str(args.warmup),
                "--steps",
                str(args.steps),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            results.append(r)
            ref = OFFICIAL.get((method, size)) if args.device == "cpu" else None
            speedup = f"{ref / r['s_per_it']:.2f}x" if ref else "-"
            print(
                f"| {method} | {size} | {batch} | {amp} | {r['s_per_it']:.3f} | {r['it_per_s']:.2f} | "
                f"{r['cpu_s_per_it']:.2f} | {r['peak_rss_gb']:.2f} | {ref or '-'} | {speedup} |",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
