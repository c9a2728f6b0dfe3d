"""Training speed side by side with the official code: iterations per wall second, CPU seconds and
peak memory, vidswap against taesungp/contrastive-unpaired-translation (CycleGAN, CUT, FastCUT).

Both sides run in one command, each in its own worker process (peak RSS is per process), on the
same JPEGs, same architecture (both plain; --antialias: both anti-aliased), same torch threads,
batch and number of loader workers. After untimed warm-up iterations the two take turns, a few
whole iterations at a time (next batch from the loader, learning rate, forward, backward, optimizer
steps), so both see the same load on a shared machine; the other side waits meanwhile.

    uv run python scripts/bench_train.py --official ../contrastive-unpaired-translation
    uv run python scripts/bench_train.py                  (vidswap only: the official rows are skipped)
    uv run python scripts/bench_train.py --device cuda --amp off bf16   (vidswap's GPU rows)

The official code is imported from the path given, never copied; it needs only torch,
torchvision, numpy and PIL for training (its visualizer, which needs visdom, is not loaded).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (method, crop size, batch): the papers' configuration is 256 px, batch 1 (AC-GAN: 64 px, batch 64; the
# face-swap autoencoder: 64 px, batch 16, configs/autoencoder.yaml)
CASES = [
    ("cyclegan", 128, 1),
    ("cut", 128, 1),
    ("fastcut", 128, 1),
    ("cyclegan", 256, 1),
    ("cut", 256, 1),
    ("fastcut", 256, 1),
    ("acgan", 64, 64),
    ("autoencoder", 64, 16),
]
OFFICIAL_MODEL = {
    "cyclegan": "--model cycle_gan",
    "cut": "--model cut --CUT_mode CUT",
    "fastcut": "--model cut --CUT_mode FastCUT",
}
IMAGES = 40  # per domain: more than a case's iterations, so no side starts a new epoch mid-benchmark


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) and its live children (the official code's loader workers)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    total = r.ru_utime + r.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # exited meanwhile
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def make_images(folder: Path, size: int) -> None:
    """trainA/ and trainB/ of random JPEGs a little larger than the load size (the official layout)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for domain in ("trainA", "trainB"):
        (folder / domain).mkdir(parents=True)
        for i in range(IMAGES):
            pixels = rng.integers(0, 255, (round(size * 1.3), round(size * 1.6), 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / domain / f"{i:03d}.jpg", quality=90)


def vidswap_iteration(method: str, size: int, batch: int, a: argparse.Namespace, data: Path):
    """One whole vidswap training iteration a call, as `vidswap train` runs it (logging, samples and
    checkpoints aside)."""
    import torch

    sys.path.insert(0, str(ROOT))
    from trainer.config import load_config
    from trainer.data import Augment, UnpairedSampler
    from trainer.loop import set_learning_rate
    from trainer.methods import method_spec
    from trainer.runtime import make_runtime

    sets = [f"data.size={size}", "data.load_size=0", f"train.batch_size={batch}", "train.steps=100000"]
    sets += [f"net.antialias={str(a.antialias).lower()}"] if method not in ("acgan", "autoencoder") else []
    cfg = load_config(method, [], sets)
    if a.loaders is not None:
        cfg.data.loader_threads = a.loaders
    rt = make_runtime(a.device, a.amp_one, cfg.train.channels_last, a.threads)
    torch.manual_seed(0)
    m = method_spec(method).build(cfg, rt)
    paths = [sorted((data / d).iterdir()) for d in ("trainA", "trainB")]
    aug = Augment(size, round(size * 286 / 256), cfg.data.flip)
    batches = UnpairedSampler(*paths, aug, batch, 0).batches(0, cfg.train.steps, cfg.data.loader_threads)

    def iteration() -> None:
        step, b = next(batches)
        set_learning_rate(m, cfg.train, step)
        m.train_step(b, step)
        rt.end_iteration()
        if rt.device.type == "cuda":
            torch.cuda.synchronize()

    return iteration


def official_iteration(method: str, size: int, batch: int, a: argparse.Namespace, data: Path):
    """One whole iteration of the official train.py a call (its visualizer and checkpoints aside)."""
    import torch

    torch.set_num_threads(a.threads)
    sys.path.insert(0, str(a.official))
    from data import create_dataset
    from models import create_model
    from options.train_options import TrainOptions

    plain = "" if a.antialias else " --no_antialias --no_antialias_up"
    loaders = 4 if a.loaders is None else a.loaders  # its own default
    cmd_line = (
        f"--dataroot {data} --name bench --checkpoints_dir {data / 'checkpoints'} {OFFICIAL_MODEL[method]}"
        f" --gpu_ids -1 --load_size {round(size * 286 / 256)} --crop_size {size} --batch_size {batch}"
        f" --num_threads {loaders} --display_id 0{plain}"
    )
    sys.argv = [sys.argv[0], *cmd_line.split()]  # parts of its option parsing read sys.argv
    opt = TrainOptions(cmd_line).parse()
    opt.amp = False  # its CycleGAN reads this option but no parser defines it (train.py fails there)
    torch.manual_seed(0)
    dataset, model = create_dataset(opt), create_model(opt)
    state = {"epoch": iter(dataset), "first": True}

    def iteration() -> None:
        try:
            b = next(state["epoch"])
        except StopIteration:  # train.py's next epoch
            state["epoch"] = iter(dataset)
            b = next(state["epoch"])
        if state["first"]:  # as train.py does on its first iteration
            if method != "cyclegan":  # its CycleGAN's takes no batch (train.py fails there; nothing to do)
                model.data_dependent_initialize(b)
            model.setup(opt)
            model.parallelize()
            state["first"] = False
        model.set_input(b)
        model.optimize_parameters()

    return iteration


def worker(side: str, method: str, size: int, batch: int, a: argparse.Namespace) -> None:
    """Serve `N` (run N iterations, answer their wall and CPU seconds and the peak RSS) until EOF."""
    answer = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the code under test prints goes to stderr, not into the answers
    build = official_iteration if side == "official" else vidswap_iteration
    iteration = build(method, size, batch, a, Path(a.data))
    answer.write("ready\n")
    for line in sys.stdin:
        wall, cpu = [], []
        for _ in range(int(line)):
            t0, c0 = time.perf_counter(), _cpu_seconds()
            iteration()
            wall.append(time.perf_counter() - t0)
            cpu.append(_cpu_seconds() - c0)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        answer.write(json.dumps({"wall": wall, "cpu": cpu, "peak_rss_gb": rss}) + "\n")


class Worker:
    def __init__(self, side: str, method: str, size: int, batch: int, amp: str, a: argparse.Namespace, data: Path):
        self.side = side
        self.log = data / f"{side}.log"
        argv = [sys.executable, __file__, "--worker", side, method, str(size), str(batch), amp, "--data", str(data)]
        argv += ["--threads", str(a.threads), "--device", a.device]
        argv += ["--official", str(a.official)] if a.official else []
        argv += ["--loaders", str(a.loaders)] if a.loaders is not None else []
        argv += ["--antialias"] if a.antialias else []
        # OpenMP threads that spin while waiting burn a shared machine's cores and slow whichever side
        # spins more (on a loaded 2-core machine the official code by 3-4x); both sides wait passively
        env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ}
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.log, "w"),
            text=True,
            bufsize=1,
            env=env,
        )
        self._read()  # "ready"
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.peak_rss_gb = 0.0

    def _read(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log.read_text().strip().splitlines()[-15:]
            raise SystemExit(f"the {self.side} worker failed:\n" + "\n".join(tail))
        return line

    def run(self, n: int, timed: bool) -> None:
        self.proc.stdin.write(f"{n}\n")
        r = json.loads(self._read())
        if timed:
            self.wall += r["wall"]
            self.cpu += r["cpu"]
        self.peak_rss_gb = r["peak_rss_gb"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()

    def summary(self) -> dict:
        return {
            "it_per_s": len(self.wall) / sum(self.wall),
            "s_per_it": sum(self.wall) / len(self.wall),
            "s_per_it_range": [min(self.wall), max(self.wall)],
            "cpu_s_per_it": sum(self.cpu) / len(self.cpu),
            "peak_rss_gb": self.peak_rss_gb,
        }


def case(method: str, size: int, batch: int, amp: str, a: argparse.Namespace) -> dict:
    sides = ["official", "vidswap"] if a.official and method in OFFICIAL_MODEL and a.device == "cpu" else ["vidswap"]
    with tempfile.TemporaryDirectory(prefix="vidswap-bench-") as tmp:
        data = Path(tmp)
        make_images(data, size)
        workers = {side: Worker(side, method, size, batch, amp, a, data) for side in sides}
        try:
            for w in workers.values():
                w.run(a.warmup, timed=False)
            per_round = math.ceil(a.steps / a.rounds)
            order = list(workers.values())
            for _ in range(a.rounds):  # alternate who goes first, so neither always follows the other's work
                for w in order:
                    w.run(per_round, timed=True)
                order.reverse()
        finally:
            for w in workers.values():
                w.close()
    out = {"method": method, "size": size, "batch": batch, "amp": amp, "device": a.device, "threads": a.threads}
    out.update({side: w.summary() for side, w in workers.items()})
    if "official" in out:
        out["speedup"] = out["vidswap"]["it_per_s"] / out["official"]["it_per_s"]
    return out


def rate(s: dict) -> str:
    lo, hi = s["s_per_it_range"]
    return f"{s['it_per_s']:.3f} ({lo:.2f}-{hi:.2f})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--official", type=Path, help="a checkout of taesungp/contrastive-unpaired-translation")
    p.add_argument("--device", default="cpu", help="vidswap's device (the official rows run on CPU only)")
    p.add_argument("--amp", nargs="+", default=["off"], help="vidswap's precisions: off bf16 fp16")
    p.add_argument("--threads", type=int, default=2, help="torch threads, both sides")
    p.add_argument(
        "--loaders", type=int, help="loader workers, both sides (default: each side's own, vidswap 2, official 4)"
    )
    p.add_argument("--antialias", action="store_true", help="both sides anti-aliased (default: both plain)")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations per side")
    p.add_argument("--steps", type=int, default=6, help="timed iterations per side")
    p.add_argument("--rounds", type=int, default=3, help="turns per side the timed iterations are split into")
    p.add_argument("--cases", nargs="*", help="only these methods")
    p.add_argument("--sizes", nargs="*", type=int, help="only these crop sizes")
    p.add_argument("--json", type=Path, help="write all results here")
    p.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        side, method, size, batch, a.amp_one = a.worker
        worker(side, method, int(size), int(batch), a)
        return
    if a.official is not None and not (a.official / "models" / "cut_model.py").is_file():
        raise SystemExit(f"error: {a.official} is not a checkout of taesungp/contrastive-unpaired-translation")
    if a.official is None:
        print("official rows skipped: no --official PATH (a checkout of taesungp/contrastive-unpaired-translation)")
    elif a.device != "cpu":
        print("official rows skipped: they run on CPU only (--device cpu)")
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        "| method | crop | batch | precision | official it/s (s/it range) | vidswap it/s (s/it range) "
        "| vidswap speed vs official | CPU s/it official / vidswap | peak RSS GB official / vidswap |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    results = []
    for method, size, batch in CASES:
        if (a.cases and method not in a.cases) or (a.sizes and size not in a.sizes):
            continue
        for amp in a.amp:
            r = case(method, size, batch, amp, a)
            results.append(r)
            o, v = r.get("official"), r["vidswap"]

            official = rate(o) if o else "-"
            speedup = f"**{r['speedup']:.2f}x**" if o else "-"
            cpu = f"{o['cpu_s_per_it']:.2f}" if o else "-"
            rss = f"{o['peak_rss_gb']:.2f}" if o else "-"
            print(
                f"| {method} | {size} | {batch} | {amp} | {official} | {rate(v)} | {speedup} "
                f"| {cpu} / {v['cpu_s_per_it']:.2f} | {rss} / {v['peak_rss_gb']:.2f} |",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if a.json:
        a.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
