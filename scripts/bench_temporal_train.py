"""What the temporal regulariser (train.temporal) buys and costs, on real face clips.

The face dataset (`vidswap extract ../shared/footage/asl -o DATASET --mode face --size 64`) is
split by clip as `scripts/quality_check.py --faces` does: every fourth clip held out, the others
alternating between A and B, B through the known transform T (sepia). Each method trains in
quality_check's short regime once a variant (off, and each weight and mode asked for), the
variants alternating so that they share the machine's load. Then, on the held-out clips, each
translated frame by frame at the training size:

- warping error of the translation (vidswap.metrics, flow and occlusion from the input clip),
  beside the input's own and as a ratio;
- known-answer PSNR against T(input) (quality_check's measure), all held-out crops;
- training speed: steps per second of short fresh runs, the variants alternating over rounds
  (data loading included), and over each whole run.

    uv run python scripts/bench_temporal_train.py --faces DATASET [--methods ...] [--steps 1500]
        [--variants off transform:10 flow:10] [--speed-steps 40 --speed-rounds 2] [--seed 0] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quality_check import SETTINGS, TRANSFORMS, split_clips, to_tensor, to_uint8  # noqa: E402

from trainer.config import load_config  # noqa: E402
from trainer.data import RECORDS, collect_images  # noqa: E402
from trainer.loop import train  # noqa: E402
from vidswap.metrics import psnr  # noqa: E402
from vidswap.metrics.warping import WarpingError  # noqa: E402


def write_domain(dataset: Path, clips: list[Path], out: Path, transform=None) -> None:
    """An extract dataset of `clips`' crops (through `transform`), with their records, so
    train.temporal_mode=flow finds consecutive frames in it."""
    keep = {c.name for c in clips}
    lines = []
    for line in (dataset / RECORDS).read_text().splitlines():
        record = json.loads(line)
        if Path(record["crop"]).parent.name in keep:
            target = out / record["crop"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if transform is None:
                shutil.copyfile(dataset / record["crop"], target)
            else:
                Image.fromarray(transform(np.asarray(Image.open(dataset / record["crop"]).convert("RGB")))).save(target)
            lines.append(line)
    (out / RECORDS).write_text("\n".join(lines) + "\n")


def held_out_clips(clips: list[Path], size: int) -> list[np.ndarray]:
    """Each held-out clip's crops in frame order, at the networks' size (N, S, S, 3 uint8)."""
    return [
        np.stack(
            [
                np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BICUBIC))
                for f in sorted(c.glob("*.*"))
            ]
        )
        for c in clips
    ]


def evaluate(generator: torch.nn.Module, clips: list[np.ndarray], transform) -> dict:
    """Warping error over every held-out clip's consecutive pairs, and PSNR against T(input)."""
    generator.eval()
    with torch.no_grad():
        outputs = [to_uint8(generator(to_tensor(list(clip)))) for clip in clips]
    reports = []
    for clip, out in zip(clips, outputs, strict=True):
        meter = WarpingError()
        for frame_in, frame_out in zip(clip, out, strict=True):
            meter.add(frame_in, frame_out)
        reports.append(meter.report())
    pairs = sum(r.pairs for r in reports)
    output = sum(r.output * r.pairs for r in reports) / pairs
    source = sum(r.input * r.pairs for r in reports) / pairs
    truth = np.concatenate([[transform(f) for f in clip] for clip in clips])
    return {
        "warping_error": output,
        "input_warping_error": source,
        "ratio": output / source,
        "pairs": pairs,
        "psnr": psnr(np.concatenate(outputs), truth),
        # the untranslated input's PSNR: a generator that has learned T must be clearly above it
        "input_psnr": psnr(np.concatenate(clips), truth),
    }


def variant_settings(variant: str) -> list[str]:
    if variant == "off":
        return ["train.temporal=0"]
    mode, weight = variant.split(":")
    return [f"train.temporal={weight}", f"train.temporal_mode={mode}"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faces", type=Path, required=True, help="a face dataset from `vidswap extract`")
    p.add_argument("--methods", nargs="+", default=["cyclegan", "cut", "fastcut", "acgan"])
    p.add_argument("--variants", nargs="+", default=["off", "transform:10", "flow:10"], help="off or MODE:WEIGHT")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--speed-steps", type=int, default=40, help="steps of each timed speed run")
    p.add_argument("--speed-rounds", type=int, default=2, help="0: only the whole runs' speed")
    p.add_argument("--seed", type=int, default=0, help="train.seed (a second seed shows run-to-run spread)")
    p.add_argument("--transform", choices=TRANSFORMS, default="sepia")
    p.add_argument("--out", type=Path, default=Path("bench_temporal_train.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    transform, description = TRANSFORMS[args.transform]
    clips_a, clips_b, held = split_clips(args.faces)
    work = Path(tempfile.mkdtemp(prefix="vidswap-temporal-"))
    write_domain(args.faces, clips_a, work / "A")
    write_domain(args.faces, clips_b, work / "B", transform)
    images_a, images_b = collect_images([str(work / "A")]), collect_images([str(work / "B")])
    results = {"transform": description, "steps": args.steps, "threads": args.threads, "seed": args.seed, "runs": []}

    def run(method: str, variant: str, steps: int, name: str) -> tuple[object, object, float]:
        cfg = load_config(
            method,
            [],
            SETTINGS["common"]
            + SETTINGS.get(method, [])
            + variant_settings(variant)
            + [f"train.steps={steps}", f"train.threads={args.threads}", f"train.seed={args.seed}"],
        )
        start = time.perf_counter()
        result = train(cfg, images_a, images_b, work / "runs" / name, show_progress=False)
        return cfg, result, time.perf_counter() - start

    for method in args.methods:
        # speed: short fresh runs, the variants alternating, after an untimed warm-up
        if args.speed_rounds:
            run(method, args.variants[0], args.speed_steps, f"{method}-warmup")
        timed = {v: [] for v in args.variants}
        for r in range(args.speed_rounds):
            for variant in args.variants:
                seconds = run(method, variant, args.speed_steps, f"{method}-{variant}-speed{r}")[2]
                timed[variant].append(args.speed_steps / seconds)
        for variant in args.variants:
            cfg, result, seconds = run(method, variant, args.steps, f"{method}-{variant}")
            scores = evaluate(result.method.export()["AtoB"], held_out_clips(held, cfg.data.size), transform)
            row = {
                "method": method,
                "variant": variant,
                # the best round: the least disturbed by other load
                "steps_per_s": max(timed[variant], default=args.steps / seconds),
                "steps_per_s_rounds": timed[variant],
                "steps_per_s_full_run": args.steps / seconds,
                **scores,
            }
            results["runs"].append(row)
            print(json.dumps(row), flush=True)
            args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
