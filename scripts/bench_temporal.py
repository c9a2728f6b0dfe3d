"""How much temporal smoothing steadies a translation and what it costs: the table behind
`--smooth auto` and its default strength (docs/temporal.md).

For each clip and mode the model's raw translation is made once, then smoothed at each
strength and encoded as `vidswap apply` encodes it (libx264, CRF 18), so what is judged is
what a user gets. Reported: the warping error of the decoded output over the input's own
(flow and occlusion mask from the input, computed once a clip) and the known-answer PSNR: the
model translates to the demo's sepia grade, so the truth is the sepia grade of the
input frame (frame mode) or the sepia-graded face crops pasted the same way (face mode).
A model that flickers is needed: an identity model has nothing to smooth. The demo's model
(`vidswap demo`) or, where minutes of GAN training do not fit, scripts/known_answer_model.py's.

    uv run python scripts/known_answer_model.py -o /tmp/sepia-model
    uv run python scripts/bench_temporal.py --model /tmp/sepia-model [--footage ../shared/footage]
    uv run python scripts/bench_temporal.py --model vidswap-demo/model --speed [--seconds 4]  # fps with and without
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidswap.api import Translator, TranslatorSettings, VideoSettings  # noqa: E402
from vidswap.demo import CLIP_RATE, CLIP_SIZE, SCALE, camera_path, photos, rescale, write_clip  # noqa: E402
from vidswap.demo import transform as sepia  # noqa: E402
from vidswap.faces.align import aligned_size  # noqa: E402
from vidswap.metrics import psnr  # noqa: E402
from vidswap.metrics.flow import FlowEstimator, to_gray  # noqa: E402
from vidswap.metrics.warping import pair_warping_error  # noqa: E402
from vidswap.pipeline.faces import at_model_size, face_processor, plan_faces  # noqa: E402
from vidswap.pipeline.smooth import CropSmoother, FlowSmoother  # noqa: E402
from vidswap.settings import FaceSettings  # noqa: E402
from vidswap.video import Frame, VideoWriter, open_video  # noqa: E402

FRAME_CLIPS = ["asl/again.mkv", "hello/movie-hello.mp4", "odd/iphone_rotated.mov", "odd/phone_vfr.mp4",
               "odd/carphone.mp4"]  # fmt: skip
FACE_CLIPS = ["asl/again.mkv", "asl/book.mkv", "asl/brother.mkv", "odd/carphone.mp4", "hello/movie-hello.mp4"]


def read(path: Path, limit: int) -> list[Frame]:
    with open_video(path) as reader:
        frames = []
        for frame in reader:
            frames.append(frame)
            if len(frames) == limit:
                break
    return frames


def demo_clip(folder: Path, count: int) -> Path:
    """The demo's held-out clip (a camera drifting over Grace Hopper's photo)."""
    _, held_out = photos()
    return write_clip(folder / "demo.mp4", camera_path(rescale(held_out, SCALE), count, *CLIP_SIZE), CLIP_RATE)


def encoded(frames: list[Frame], images: list[np.ndarray], folder: Path) -> list[np.ndarray]:
    """`images` through apply's encoder (default settings) and back, at the frames' times."""
    path = folder / "out.mp4"
    height, width = images[0].shape[:2]
    with VideoWriter(path, width=width, height=height, time_base=Fraction(1, 1000)) as writer:
        for frame, image in zip(frames, images):
            writer.write(image, round(frame.time * 1000))
    return [f.image for f in read(path, len(frames))]


class Judge:
    """Warping error and PSNR of candidate outputs of one clip, the flow computed once."""

    def __init__(self, inputs: list[np.ndarray], truth: list[np.ndarray]):
        flow = FlowEstimator(max_side=640, preset="medium")  # the measuring flow of vidswap eval
        grays = [to_gray(f) for f in inputs]
        self.pairs = [flow.pair(a, b) for a, b in zip(grays, grays[1:])]
        self.inputs, self.truth = inputs, truth
        self.input_error = self._error(inputs)

    def _error(self, frames: list[np.ndarray]) -> float:
        terms = [pair_warping_error(a, b, p) for a, b, p in zip(frames, frames[1:], self.pairs)]
        return float(np.mean([t for t in terms if t is not None]))

    def __call__(self, frames: list[Frame], outputs: list[np.ndarray], folder: Path) -> tuple[float, float]:
        outputs = encoded(frames, outputs, folder)
        return self._error(outputs) / self.input_error, psnr(np.stack(outputs), np.stack(self.truth))


def frame_rows(name: str, frames: list[Frame], translator: Translator, folder: Path, strengths) -> list[tuple]:
    inputs = [f.image for f in frames]
    raw = [translator(im) for im in inputs]
    judge = Judge(inputs, [sepia(im) for im in inputs])
    rows = []
    for strength in strengths:
        smoother = FlowSmoother(strength)
        outputs = [smoother(i, o) for i, o in zip(inputs, raw)]
        rows.append((name, "frame", strength, *judge(frames, outputs, folder)))
    return rows


def face_rows(
    name: str, path: Path, frames: list[Frame], translator: Translator, folder: Path, strengths
) -> list[tuple]:
    size = translator.model.card.size
    crop = aligned_size(size)
    settings = FaceSettings()
    plan = plan_faces(path, crop, settings, end=frames[-1].time + 1e-3)
    model = translator if crop == size else at_model_size(translator, size)
    inputs = [f.image for f in frames]
    truth = face_processor(lambda crops: [sepia(c) for c in crops], plan, settings)(frames)
    judge = Judge(inputs, truth)
    rows = []
    for strength in strengths:
        process = face_processor(model, plan, settings, CropSmoother(strength) if strength else None)
        rows.append((name, "face", strength, *judge(frames, [out for f in frames for out in process([f])], folder)))
    return rows


def speed(model: str, footage: Path, rounds: int, seconds: float) -> None:
    """Frames per second of `vidswap apply` with and without the default smoothing,
    alternated in one run (the machine is shared: compare within a round)."""
    cases = [("frame", footage / "hello/movie-hello.mp4"), ("face", footage / "asl/again.mkv")]
    print("| clip | mode | round | fps, --smooth none | fps, --smooth auto |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for mode, path in cases:
            translators = {
                s: Translator(TranslatorSettings(model=model, mode=mode, smooth=s)) for s in ("none", "auto")
            }
            for translator in translators.values():  # warm-up: backend export and checks
                translator.apply(path, Path(tmp) / "warm.mp4", VideoSettings(end=0.5), overwrite=True)
            for r in range(rounds):
                fps = {}
                for smooth, translator in translators.items():
                    out = Path(tmp) / f"{smooth}.mp4"
                    began = time.perf_counter()
                    result = translator.apply(path, out, VideoSettings(end=seconds), overwrite=True)
                    fps[smooth] = result.frames / (time.perf_counter() - began)
                print(f"| {path.name} | {mode} | {r + 1} | {fps['none']:.2f} | {fps['auto']:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a model folder that flickers, e.g. the demo's")
    parser.add_argument("--footage", default=str(Path(__file__).resolve().parents[2] / "shared/footage"))
    parser.add_argument("--frames", type=int, default=48, help="at most this many frames a clip")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.0, 0.3, 0.6, 0.8])
    parser.add_argument("--clips", nargs="*", help="only these (footage paths, or 'demo')")
    parser.add_argument("--speed", action="store_true", help="measure apply's frames/s instead")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0, help="--speed: seconds of each clip a run")
    args = parser.parse_args()
    footage = Path(args.footage)
    if args.speed:
        speed(args.model, footage, args.rounds, args.seconds)
        return
    frame_model = Translator(TranslatorSettings(model=args.model, backend="torch", mode="frame"))
    face_model = Translator(TranslatorSettings(model=args.model, backend="torch", mode="face"))
    print("| clip | mode | strength | warping error / input's | PSNR vs known answer (dB) |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench_temporal.") as tmp:
        folder = Path(tmp)
        jobs = [("demo", "frame", demo_clip(folder, 72))] + [(c, "frame", footage / c) for c in FRAME_CLIPS]
        jobs += [(c, "face", footage / c) for c in FACE_CLIPS]
        for name, mode, path in jobs:
            if args.clips and name not in args.clips:
                continue
            frames = read(path, args.frames)
            began = time.perf_counter()
            if mode == "frame":
                rows = frame_rows(name, frames, frame_model, folder, args.strengths)
            else:
                rows = face_rows(name, path, frames, face_model, folder, args.strengths)
            for clip, m, strength, ratio, score in rows:
                print(f"| {clip} | {m} | {strength:.1f} | {ratio:.2f} | {score:.2f} |", flush=True)
            print(f"<!-- {name} {mode}: {len(frames)} frames, {time.perf_counter() - began:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
