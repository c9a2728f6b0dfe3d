"""--work-size: speed and look of translating at the model's scale against the frame's own size.

1. Speed: the published models' generator (ResNet, ngf 64, 9 blocks; random weights: speed
   only) on 720p and 1080p frames, `--work-size full` and 256 side by side, frames/s and ratio,
   and the share of the guided upsampling in the 256 path.
2. Look: ways to bring a 256-px translation back to 1080p, on translations whose full-size
   answer is known: a per-pixel colour map (channels mixed, one inverted) and a real network
   fitted to the demo's sepia grade (scripts/known_answer_model.py). PSNR against the answer,
   and a PNG of crops (input | full-size run | each way) to look at.

    uv run python scripts/bench_workscale.py [--frames 1] [--ngf 64] [--blocks 9] [--png /tmp/workscale.png]
        [--sepia MODEL] [--skip-speed]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.bench_apply import save_generator  # noqa: E402
from tests.helpers import astronaut  # noqa: E402
from vidswap.api import Translator, TranslatorSettings  # noqa: E402
from vidswap.demo import transform as sepia  # noqa: E402
from vidswap.metrics import psnr  # noqa: E402
from vidswap.pipeline.translate import to_images, to_tensor  # noqa: E402
from vidswap.pipeline.upsample import enlarge, guided_upsample, shrink  # noqa: E402
from vidswap.video import open_video  # noqa: E402

FOOTAGE = Path(__file__).resolve().parents[2] / "shared" / "footage" / "odd" / "phone_vfr.mp4"  # 1920x1080


def frame_1080p() -> tuple[np.ndarray, str]:
    """A real 1080p frame where the team's footage is at hand, else the astronaut enlarged."""
    if FOOTAGE.is_file():
        with open_video(FOOTAGE) as reader:
            return next(iter(reader)).image, f"{FOOTAGE.name} frame 0"
    image = np.asarray(Image.fromarray(astronaut()).resize((1080, 1080), Image.BICUBIC))
    return np.pad(image, ((0, 0), (420, 420), (0, 0)), mode="reflect"), "astronaut enlarged to 1080 px"


def speed(args, model: Path, frame: np.ndarray) -> None:
    print(f"1. speed: ResNet generator ngf {args.ngf}, {args.blocks} blocks, torch backend, {args.frames} frames")
    for name, (w, h) in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
        image = np.asarray(Image.fromarray(frame).resize((w, h), Image.BICUBIC))
        rates = {}
        for work in ("full", 256):
            translator = Translator(TranslatorSettings(model=str(model), backend="torch", work_size=work))
            translator(image[:64, :64])  # the torch backend is made on the first call (any size)
            began = time.perf_counter()
            for _ in range(args.frames):
                translator(image)
            rates[work] = args.frames / (time.perf_counter() - began)
        x = to_tensor([image], "cpu")
        small = shrink(x, (256, round(256 * w / h / 4) * 4))
        began = time.perf_counter()
        guided_upsample(x, small, small)
        upsample_s = time.perf_counter() - began
        print(f"  {name}: full {rates['full']:.3f} frames/s | 256: {rates[256]:.3f} frames/s | "
              f"ratio {rates[256] / rates['full']:.1f}x | guided upsampling {upsample_s * 1000:.0f} ms a frame "
              f"({upsample_s * rates[256]:.0%} of the 256 path)", flush=True)  # fmt: skip


def ways(x: torch.Tensor, small: torch.Tensor, translated: torch.Tensor) -> dict[str, torch.Tensor]:
    size = x.shape[2:]
    return {
        "bilinear": enlarge(translated, size),
        "input detail added": x + enlarge(translated - small, size),  # a Laplacian pyramid's way
        "guided (shipped)": guided_upsample(x, small, translated),
    }


def look(args, frame: np.ndarray, where: str) -> None:
    print(f"2. look at 1080p from 256 px ({where}): PSNR against the full-size answer")
    x = to_tensor([frame], "cpu")
    small = shrink(x, (256, 456))
    with tempfile.TemporaryDirectory() as tmp:
        sepia_model = args.sepia or Path(tmp) / "sepia"
        if not args.sepia:
            subprocess.run([sys.executable, str(Path(__file__).parent / "known_answer_model.py"), "-o",
                            str(sepia_model)], check=True, capture_output=True)  # fmt: skip
        generator = Translator(TranslatorSettings(model=str(sepia_model), backend="torch")).model.generator
        with torch.inference_mode():
            full_run = to_images(generator(x))[0]
            results = ways(x, small, generator(small))
    truth = sepia(frame)
    print(f"  sepia network: run at full size {psnr(full_run, truth):.2f} dB")
    crops = {"input": frame, "full-size run": full_run}
    for name, out in results.items():
        image = to_images(out)[0]
        crops[name] = image
        print(f"  sepia network at 256, {name}: {psnr(image, truth):.2f} dB")
    mix = torch.tensor([[0.2, 0.6, 0.2], [0.9, -0.3, 0.1], [0.1, 0.1, 0.5]])

    def colour_map(t):
        return (1 - torch.einsum("ck,nkhw->nchw", mix, t.add(1).div(2)).clamp(0, 1) ** 0.7).mul(2).sub(1)

    truth = to_images(colour_map(x))[0]
    for name, out in ways(x, small, colour_map(small)).items():
        print(f"  colour map at 256, {name}: {psnr(to_images(out)[0], truth):.2f} dB")
    top, left = args.crop
    strip = [image[top : top + 256, left : left + 256] for image in crops.values()]
    Image.fromarray(np.concatenate(strip, 1)).save(args.png)
    print(f"  crops ({' | '.join(crops)}) at ({top}, {left}) in {args.png}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=9)
    parser.add_argument("--png", type=Path, default=Path(tempfile.gettempdir()) / "workscale.png")
    parser.add_argument("--sepia", type=Path, help="a model folder from known_answer_model.py [default: fit one]")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--crop", type=int, nargs=2, default=(400, 800), metavar=("TOP", "LEFT"))
    args = parser.parse_args()
    frame, where = frame_1080p()
    if not args.skip_speed:
        with tempfile.TemporaryDirectory() as tmp:
            speed(args, save_generator(Path(tmp) / "published_like", args.ngf, args.blocks), frame)
    look(args, frame, where)


if __name__ == "__main__":
    main()
