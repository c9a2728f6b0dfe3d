"""A face-swap contact sheet: the input's face, the output's and the target person's, a row per frame.

Each tile is a square around the face dlib finds in the input frame (the same square in the
output frame; the target's own face in the target clip), so the three compare at one scale.

    uv run --all-extras python scripts/faceswap_sheet.py --input a_test/thanks.mkv \\
        --output thanks-1000.mp4 --target hello_test.mp4 --frames 10 40 -o docs/faceswap_contact_sheet.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidswap.fsutil import atomic_path  # noqa: E402
from vidswap.metrics.identity import FaceJudge  # noqa: E402
from vidswap.video import read_frames  # noqa: E402


def face_square(judge: FaceJudge, image: np.ndarray, zoom: float) -> tuple[int, int, int, int]:
    """A square `zoom` times the found face's height around its centre, inside the frame."""
    box = judge.find(image)
    if box is None:
        raise SystemExit("no face found in a sheet frame: choose other --frames")
    left, top, right, bottom = box
    side = min(round((bottom - top) * zoom), *image.shape[:2])
    x = min(max(0, (left + right - side) // 2), image.shape[1] - side)
    y = min(max(0, (top + bottom - side) // 2), image.shape[0] - side)
    return x, y, x + side, y + side


def tile(image: np.ndarray, square: tuple[int, int, int, int], side: int) -> Image.Image:
    x0, y0, x1, y1 = square
    return Image.fromarray(image[y0:y1, x0:x1]).resize((side, side), Image.BICUBIC)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", type=Path, required=True, help="a held-out clip of the source person")
    p.add_argument("--output", type=Path, required=True, help="its translation (vidswap apply, face mode)")
    p.add_argument("--target", type=Path, required=True, help="a held-out clip of the target person")
    p.add_argument("--frames", type=int, nargs="+", default=[10, 40], help="frame indices, a row each")
    p.add_argument("--zoom", type=float, default=2.2, help="tile side over the face's height")
    p.add_argument("--side", type=int, default=160, help="tile size in pixels")
    p.add_argument("-o", "--out", type=Path, required=True)
    args = p.parse_args()

    judge = FaceJudge()
    inputs = read_frames(args.input, args.frames)
    outputs = read_frames(args.output, args.frames)
    targets = read_frames(args.target, args.frames)
    sheet = Image.new("RGB", (3 * args.side, len(args.frames) * args.side), "white")
    for row, (inp, out, tgt) in enumerate(zip(inputs, outputs, targets, strict=True)):
        square = face_square(judge, inp.image, args.zoom)
        tiles = [tile(inp.image, square, args.side), tile(out.image, square, args.side)]
        tiles.append(tile(tgt.image, face_square(judge, tgt.image, args.zoom), args.side))
        for col, t in enumerate(tiles):
            sheet.paste(t, (col * args.side, row * args.side))
    with atomic_path(args.out) as tmp:
        sheet.save(tmp, format="PNG")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
