"""Face detection speed: frames/s of MTCNN at 640x480 and 1280x720, batched against one
frame at a time, on CPU (and on the GPU when there is one).

    uv run python scripts/bench_faces.py [--frames 16] [--batch 8] [--min-size 20 40]

Frames are scikit-image's astronaut photo placed on a frame of each size, moved a
little each frame so no two are identical. Prints a markdown table."""

from __future__ import annotations

import argparse
import os
import platform
import time

import cv2
import numpy as np
import torch
from skimage.data import astronaut

from vidswap.faces import FaceDetector


def make_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    photo = astronaut()
    side = height * 3 // 4
    photo = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(count):
        frame = np.full((height, width, 3), 90, np.uint8)
        x, y = (width - side) // 2 + 2 * i, (height - side) // 2 + i
        frame[y : y + side, x : x + side] = photo
        frames.append(frame)
    return frames


def measure(detector, frames: list[np.ndarray], batched: bool, repeats: int = 3) -> tuple[float, float]:
    """(frames/s of wall time, CPU seconds a frame), the best of `repeats`. CPU time
    (all threads of this process) is the figure to trust on a busy shared machine."""
    detector.detect(frames[:2])  # warm-up: first calls build kernels for the shapes
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        found = detector.detect(frames) if batched else [detector.detect_one(f) for f in frames]
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        assert all(found), "the benchmark face was missed"
    return len(frames) / best_wall, best_cpu / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--min-size", type=int, nargs="+", default=[20, 40])
    args = parser.parse_args()

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    if torch.cuda.is_available():
        print(f"gpu: {torch.cuda.get_device_name(0)}")
    print()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print()
    print(
        f"| device | frame | min face | one at a time: frames/s | CPU s/frame "
        f"| batched x{args.batch}: frames/s | CPU s/frame | batched speed-up (wall) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for device in devices:
        for min_size in args.min_size:
            detector = FaceDetector(device=device, min_size=min_size, batch_size=args.batch)
            for width, height in ((640, 480), (1280, 720)):
                frames = make_frames(width, height, args.frames)
                single, single_cpu = measure(detector, frames, batched=False)
                batched, batched_cpu = measure(detector, frames, batched=True)
                print(
                    f"| {device} | {width}x{height} | {min_size} px | {single:.1f} | {single_cpu:.3f} "
                    f"| {batched:.1f} | {batched_cpu:.3f} | {batched / single:.2f}x |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
