"""One backend against torch eager fp32 where apply rarely takes it: a batch larger than the
backend was made for (TensorRT runs it in chunks) and a second frame size in the same process
(TensorRT builds a second engine). Prints one line per case with its PSNR; exit 1 when one
falls below the floor. A row of scripts/gpu_check.py.

    PYTHONPATH=. python3 scripts/backend_probe.py --model DIR --backend tensorrt --device cuda:0 [--fp16]
"""

from __future__ import annotations

import argparse
import sys

import torch

from vidswap.models import load_model
from vidswap.runtime import create_backend
from vidswap.runtime.verify import psnr, sample_batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a model folder")
    parser.add_argument("--backend", required=True)
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--batch", type=int, default=2, help="the batch the backend is made for")
    args = parser.parse_args()
    model = load_model(args.model, device=args.device)
    backend = create_backend(model.generator, args.backend, device=args.device, fp16=args.fp16,
                             batch_sizes=(args.batch,), image_size=(64, 96), model_folder=model.folder)  # fmt: skip
    floor = 30.0 if args.fp16 else 40.0  # dB against eager fp32 (fp16 rounds each layer)
    cases = {
        f"batch {2 * args.batch + 1} (made for {args.batch})": sample_batch(2 * args.batch + 1, 64, 96),
        "a second size, 48x128": sample_batch(args.batch, 48, 128),
    }
    failed = False
    for label, x in cases.items():
        x = x.to(args.device)
        with torch.inference_mode():
            expected = model.generator(x).float()
        got = backend(x).float()
        value = psnr(expected, got) if got.shape == expected.shape else float("nan")
        failed |= not value >= floor
        print(f"{backend.describe()}, {label}: shape {tuple(got.shape)}, PSNR {value:.1f} dB (floor {floor:.0f})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
