"""Face mode's speed and accuracy on the team's footage: the fast path (MTCNN on a copy
sized by --min-face-size every few frames, faces followed in between) against the full
path (--full-detect: full resolution, every frame), beside frame mode.

    uv run python scripts/bench_faces.py [--frames 36] [--footage ../shared/footage]
        [--device cpu|cuda] [--no-apply] [--no-landmarks] [--no-extract]

Clips (made here with PyAV from the footage): movie-hello at 720p and upscaled to 1080p
(one face), movie-hello beside an ASL clip at 720p and 1080p (two faces); the landmark
check also runs on an ASL clip (640x480) and carphone (176x144). Prints markdown tables:
identity apply frames/s (frame mode, face fast, face full) and ratios; the fast path's
landmark error against the full path's (in face sizes), tracks lost or split, PSNR of
identity face mode against the input; `vidswap extract` face counts with each detector."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidswap.api import FaceSettings, Translator, TranslatorSettings  # noqa: E402
from vidswap.device import pick_device  # noqa: E402
from vidswap.extract import extract_dataset  # noqa: E402
from vidswap.faces import FaceDetector, compare_tracks  # noqa: E402
from vidswap.metrics.image import psnr  # noqa: E402
from vidswap.pipeline.faces import find_faces  # noqa: E402
from vidswap.video import open_video  # noqa: E402

TWO_FACE_PARTNER = "asl/book.mkv"


def read(path: Path, count: int) -> list[np.ndarray]:
    with open_video(path) as reader:
        return [frame.image for _, frame in zip(range(count), reader)]


def write(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "16", "preset": "veryfast"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def centre_crop(image: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    y, x = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    return image[y : y + height, x : x + width]


def make_clips(footage: Path, folder: Path, count: int) -> dict[str, Path]:
    hello = read(footage / "hello/movie-hello.mp4", count)
    partner = read(footage / TWO_FACE_PARTNER, count)
    count = min(len(hello), len(partner))
    # movie-hello's face is in a webcam inset on the left of a screen recording
    two = [np.hstack([a[:, :640], centre_crop(b, 640, 720)]) for a, b in zip(hello, partner)]
    up = lambda frames: [cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_CUBIC) for f in frames[:count]]  # noqa: E731
    return {
        "720p, 1 face": write(folder / "hello720.mp4", hello[:count]),
        "1080p, 1 face": write(folder / "hello1080.mp4", up(hello)),
        "720p, 2 faces": write(folder / "two720.mp4", two),
        "1080p, 2 faces": write(folder / "two1080.mp4", up(two)),
    }


def apply_fps(clip: Path, out: Path, mode: str, full: bool, device: str) -> tuple[float, float, float]:
    """(frames/s of an identity apply (face mode: with its face pass), CPU seconds a frame
    of this process, PSNR of its output against the input)."""
    face = FaceSettings(select="all", full_detect=full)
    translator = Translator(TranslatorSettings(model="identity", mode=mode, face=face, device=device))
    cpu = time.process_time()
    result = translator.apply(clip, out, overwrite=True)
    cpu = (time.process_time() - cpu) / result.frames
    scores = [psnr(a, b) for a, b in zip(read(clip, result.frames), read(out, result.frames))]
    return result.fps, cpu, float(np.mean(scores))


def landmark_check(clip: Path, device: str) -> dict:
    timed = {}
    for name, full in (("fast", False), ("full", True)):
        start = time.perf_counter()
        timed[name] = find_faces(clip, FaceSettings(select="all", full_detect=full), device=device)
        timed[name + "_s"] = time.perf_counter() - start
    agreement = compare_tracks(timed["full"].tracks, timed["fast"].tracks)
    return dict(
        tracks=(len(timed["full"].tracks), len(timed["fast"].tracks)),
        median=100 * agreement.percentile(50),
        p95=100 * agreement.percentile(95),
        lost=agreement.lost,
        split=agreement.split,
        searched=f"{timed['fast'].detected}/{timed['fast'].frames}",
        plan_speedup=timed["full_s"] / timed["fast_s"],
    )


def extract_check(sources: list[Path], folder: Path, device: str, per_clip: int | None) -> dict:
    """(faces, crops, wall seconds, CPU seconds) of `vidswap extract` with each detector:
    `per_clip` frames spread over each clip (searched one by one), or every frame (followed)."""
    counts = {}
    for name, downscale in (("fast", True), ("full", False)):
        start, cpu = time.perf_counter(), time.process_time()
        summary = extract_dataset(
            sources, folder / name, detector=FaceDetector(device=device, downscale=downscale), max_per_clip=per_clip
        )
        counts[name] = (summary.total("faces"), summary.total("crops"), time.perf_counter() - start,
                        time.process_time() - cpu)  # fmt: skip
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=36, help="frames a clip")
    parser.add_argument("--footage", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "footage")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (detection and the model)")
    parser.add_argument("--no-apply", action="store_true", help="skip the apply speed table")
    parser.add_argument("--no-landmarks", action="store_true", help="skip the landmark check")
    parser.add_argument("--no-extract", action="store_true", help="skip the extract check")
    args = parser.parse_args()
    device = pick_device(args.device)
    if not args.footage.is_dir():
        sys.exit(f"no footage at {args.footage}")

    gpu = torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU only"
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {gpu}")
    print(f"load average at start: {os.getloadavg()[0]:.1f}\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = make_clips(args.footage, folder, args.frames)
        apply_fps(clips["720p, 1 face"], folder / "warm-up.mp4", "face", False, device)  # imports, first calls
        if not args.no_apply:
            print("| clip | frame mode fps | face fast fps | face full fps | fast/full | fast/frame | full/frame "
                  "| CPU s/frame frame / fast / full | PSNR fast | PSNR full |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|---|---|")
            for n, (name, clip) in enumerate(clips.items()):
                runs = [("frame", False), ("face", False), ("face", True)]
                results = {}
                for mode, full in runs if n % 2 == 0 else runs[::-1]:  # alternate the order between clips
                    results[mode, full] = apply_fps(clip, folder / f"out-{mode}-{full}.mp4", mode, full, device)
                (frame, c_frame, _), (fast, c_fast, p_fast), (full, c_full, p_full) = (results[r] for r in runs)
                print(f"| {name} | {frame:.2f} | {fast:.2f} | {full:.2f} | {fast / full:.1f}x | {fast / frame:.2f} "
                      f"| {full / frame:.2f} | {c_frame:.3f} / {c_fast:.3f} / {c_full:.3f} | {p_fast:.2f} "
                      f"| {p_full:.2f} |", flush=True)  # fmt: skip

        if not args.no_landmarks:
            print("\n| clip | tracks full / fast | median error | 95th pct | lost | split | frames searched "
                  "| face pass speed-up |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|")
            checks = {**clips, "asl book 640x480": args.footage / "asl/book.mkv",
                      "carphone 176x144": args.footage / "odd/carphone.mp4"}  # fmt: skip
            for name, clip in checks.items():
                r = landmark_check(clip, device)
                row = f"| {name} | {r['tracks'][0]} / {r['tracks'][1]} | {r['median']:.2f}% | {r['p95']:.2f}% "
                print(row + f"| {r['lost']} | {r['split']} | {r['searched']} | {r['plan_speedup']:.1f}x |", flush=True)

        if not args.no_extract:
            footage = [args.footage / "hello/movie-hello.mp4", args.footage / "odd/carphone.mp4"]
            footage += sorted((args.footage / "asl").glob("*.mkv"))[:4]
            print("\n| extract | detector | faces | crops | seconds | CPU seconds |")
            print("|---|---|---|---|---|---|")
            made = [clips["1080p, 1 face"], clips["1080p, 2 faces"]]
            runs = (("footage (6 clips, 176x144 to 720p), 20 frames a clip", footage, 20),
                    ("1080p (2 clips made here), every frame", made, None))  # fmt: skip
            for label, sources, per_clip in runs:
                counts = extract_check(sources, folder / label[:4], device, per_clip)
                for name, (faces, crops, seconds, cpu) in counts.items():
                    print(f"| {label} | {name} | {faces} | {crops} | {seconds:.1f} | {cpu:.1f} |")
                fast, full = counts["fast"], counts["full"]
                print(f"| {label} | fast/full | {fast[0] / max(full[0], 1):.3f} | | {full[2] / fast[2]:.1f}x faster "
                      f"| {full[3] / fast[3]:.1f}x less |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
