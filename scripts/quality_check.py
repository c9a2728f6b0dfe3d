"""A training check with a known answer.

Domain B is a fixed transform T of photos like domain A's (by default red and blue
swapped; also the demo's sepia grade, a colour negative, or a cartoon filter: flattened
colours with ink lines on the edges, which no colour lookup can fake), but the two sets are
unpaired: independent random crops, each transformed at the size the loader shows it. After a
short CPU run, a method's translation of held-out A crops (from a photo used by neither
domain) should be much closer to T(x) (PSNR, SSIM) than the untranslated input x is, and than
a flat grey guess; its high-frequency energy against T(x)'s says whether it drew the lines
(near 1), blurred them (below) or added a grid (above).

With --faces DATASET (from `vidswap extract`), the images are aligned face crops instead:
A and B from alternate clips, the held-out crops from every fourth clip, used by neither.

    uv run python scripts/quality_check.py [--methods cyclegan ... autoencoder] [--steps N] [--transform T]
    uv run python scripts/quality_check.py --transform cartoon --seed 1
    uv run python scripts/quality_check.py --faces DATASET --transform sepia
    uv run python scripts/quality_check.py --no-antialias   # transposed-convolution generators (the papers')
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from skimage.metrics import structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.config import load_config  # noqa: E402
from trainer.data import collect_images  # noqa: E402
from trainer.loop import train  # noqa: E402
from vidswap.demo import FAST_SETTINGS, NCE_LAYERS, crops, photos  # noqa: E402  (the demo's pieces)
from vidswap.demo import TRANSFORM as SEPIA  # noqa: E402
from vidswap.demo import transform as sepia  # noqa: E402
from vidswap.metrics import high_frequency_energy, psnr  # noqa: E402


def swap(x: np.ndarray) -> np.ndarray:
    """Red and blue swapped (uint8 HWC)."""
    return np.ascontiguousarray(x[..., ::-1])


def negative(x: np.ndarray) -> np.ndarray:
    """A colour negative with red and blue swapped (uint8 HWC)."""
    return 255 - swap(x)


def cartoon(x: np.ndarray) -> np.ndarray:
    """Colours flattened by a bilateral filter, black where the grey image's local contrast marks
    an edge (an adaptive threshold): texture and lines, scaled for 32 px crops (uint8 HWC)."""
    grey = cv2.medianBlur(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), 3)
    lines = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 7, 4)
    flat = cv2.bilateralFilter(np.ascontiguousarray(x), 5, 60, 5)
    return cv2.bitwise_and(flat, flat, mask=lines)


TRANSFORMS = {  # name: (T, description)
    "swap": (swap, "red and blue swapped"),
    "sepia": (sepia, SEPIA),
    "negative": (negative, "colour negative, red and blue swapped"),
    "cartoon": (cartoon, "cartoon: bilateral-flattened colours, black ink on adaptive-threshold edges"),
}


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity (Wang et al. 2004) of two stacks of uint8 RGB images."""
    return float(np.mean([structural_similarity(x, y, channel_axis=-1, data_range=255) for x, y in zip(a, b)]))


def at_size(images: list[np.ndarray], size: int) -> list[np.ndarray]:
    return [cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images]


def to_tensor(batch: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


SETTINGS = {  # small networks for a few CPU minutes; the methods' own losses and weights
    # the demo's regime (tiny networks, batch norm, lr 1e-3, PatchNCE taps inside the encoder
    # and blocks: see vidswap/demo.py), with a 34 px patch discriminator for 32 px crops
    # (d_layers 3 would see the whole crop at once)
    "common": FAST_SETTINGS + ["net.d_layers=2"],
    # the identity loss asks G(B) = B: right for colour-preserving translations, wrong for these
    "cyclegan": ["cyclegan.lambda_idt=0"],
    # flip equivariance off: with it, FastCUT kept the input's hues here (+1.0 dB; +4.8 dB
    # without: docs/bench_train.md). A likely reason: it asks the encoder to commute with a
    # mirror, which a stride-2 layer on an even width cannot (its grid shifts a pixel), and
    # that costs most on 32 px crops with ngf 8
    "fastcut": ["cut.flip_equivariance=false"],
    "acgan": ["train.batch_size=32", "acgan.encoder_steps=0.3", "net.ngf=32", "net.ndf=32", "train.lr=2e-4"],
    # the face-swap autoencoder at its own batch (no discriminator to balance)
    "autoencoder": ["train.batch_size=16", "net.ngf=16"],
}


def split_clips(dataset: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """A face dataset's crop folders (one a clip) split into (A, B, held out): every fourth clip is
    held out, the others alternate between A and B."""
    clips = sorted(d for d in (dataset / "crops").iterdir() if d.is_dir())
    if len(clips) < 4:
        sys.exit(f"{dataset}: need face crops from at least 4 clips, found {len(clips)}")
    rest = [c for i, c in enumerate(clips) if i % 4 != 3]
    return rest[0::2], rest[1::2], [c for i, c in enumerate(clips) if i % 4 == 3]


def face_material(dataset: Path, rng: np.random.Generator, n_test: int) -> tuple[list, list, list]:
    """(A crops, B crops before T, held-out crops) of a face dataset, split by clip: training
    crops at 64 px like the photos' (the loader shrinks them), held-out ones at 32 px, the
    networks' size here."""
    clips_a, clips_b, held = split_clips(dataset)

    def load(folders: list[Path], size: int = 64) -> list[np.ndarray]:
        return [
            np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BICUBIC))
            for d in folders
            for f in sorted(d.glob("*.*"))
        ]

    test = load(held, 32)
    test = [test[i] for i in rng.choice(len(test), min(n_test, len(test)), replace=False)]
    return load(clips_a), load(clips_b), test


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=["cyclegan", "cut", "fastcut", "acgan", "autoencoder"])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--crops", type=int, default=400, help="training images a domain")
    p.add_argument("--out", type=Path, default=Path("quality_check"))
    p.add_argument("--transform", choices=TRANSFORMS, default="swap")
    p.add_argument("--faces", type=Path, help="a face dataset from `vidswap extract` instead of the photos")
    p.add_argument("--seed", type=int, default=0, help="the training runs' seed (the images stay the same)")
    p.add_argument(
        "--no-antialias",
        dest="antialias",
        action="store_false",
        help="generators with strided and transposed convolutions instead of anti-aliased sampling",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra settings for every method",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    transform, description = TRANSFORMS[args.transform]
    rng = np.random.default_rng(0)
    if args.faces:
        images_a, images_b, test = face_material(args.faces, rng, 64)
    else:
        train_photos, held_out = photos()
        images_a, images_b = (crops(train_photos, args.crops, 64, rng, 0.3) for _ in "AB")
        test = crops([held_out], 64, 32, rng, 0.15)
    # T at the size the loader shows (its load size): a structural T does not commute with resizing
    load_size = load_config("cyclegan", [], SETTINGS["common"]).data.load_size
    images_a, images_b = at_size(images_a, load_size), at_size(images_b, load_size)
    work = Path(tempfile.mkdtemp(prefix="vidswap-quality-"))
    for name, images in (("A", images_a), ("B", [transform(c) for c in images_b])):
        (work / name).mkdir()
        for i, im in enumerate(images):
            Image.fromarray(im).save(work / name / f"{i:04d}.png")
    expected = np.stack([transform(t) for t in test])
    baseline, baseline_ssim = psnr(np.stack(test), expected), ssim(np.stack(test), expected)
    grey = psnr(np.full_like(expected, 128), expected)  # what a flat mid-grey guess scores
    args.out.mkdir(parents=True, exist_ok=True)
    sampling = [f"net.antialias={str(args.antialias).lower()}", f"cut.nce_layers={NCE_LAYERS[args.antialias]}"]
    results = {
        "transform": description,
        "antialias": args.antialias,
        "seed": args.seed,
        "baseline_psnr": round(baseline, 2),
        "baseline_ssim": round(baseline_ssim, 3),
        "baseline_high_frequency_ratio": round(
            high_frequency_energy(np.stack(test)) / high_frequency_energy(expected), 3
        ),
        "mid_grey_psnr": round(grey, 2),
        "methods": {},
    }
    print(
        f"untranslated input vs T(input): {baseline:.2f} dB, SSIM {baseline_ssim:.3f}, energy above half Nyquist "
        f"{results['baseline_high_frequency_ratio']:.2f} x the truth's; flat mid-grey: {grey:.2f} dB"
    )
    for method in args.methods:
        cfg = load_config(
            method,
            [],
            SETTINGS["common"]
            + sampling
            + SETTINGS.get(method, [])
            + args.overrides
            + [f"train.steps={args.steps}", f"train.threads={args.threads}", f"train.seed={args.seed}"],
        )
        start = time.perf_counter()
        result = train(
            cfg,
            collect_images([str(work / "A")]),
            collect_images([str(work / "B")]),
            work / "runs" / method,
            show_progress=False,
        )
        seconds = time.perf_counter() - start
        gen = result.method.export()["AtoB"].eval()
        with torch.no_grad():
            out = to_uint8(gen(to_tensor(test)))
        score, structure = psnr(out, expected), ssim(out, expected)
        high = high_frequency_energy(out) / high_frequency_energy(expected)  # a grid: above 1; a blur: below
        results["methods"][method] = {
            "psnr": round(score, 2),
            "gain_db": round(score - baseline, 2),
            "ssim": round(structure, 3),
            "high_frequency_ratio": round(high, 3),
            "steps": args.steps,
            "seconds": round(seconds, 1),
            "size": cfg.data.size,
        }
        print(
            f"{method}: {score:.2f} dB ({score - baseline:+.2f}), SSIM {structure:.3f}, energy above half Nyquist "
            f"{high:.2f} x the truth's, "
            f"after {args.steps} steps, {seconds:.0f} s",
            flush=True,
        )
        row = np.concatenate([np.concatenate(list(a[:8]), axis=1) for a in (np.stack(test), out, expected)], axis=0)
        Image.fromarray(row).save(args.out / f"{method}.png")
    (args.out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
