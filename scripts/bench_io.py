"""Video I/O throughput: vidswap's reader, writer and identity apply against a plain
PyAV loop doing the same work, on a 720p clip with audio made here.

    uv run python scripts/bench_io.py [--frames 150] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import astronaut, make_video  # noqa: E402
from vidswap.pipeline.apply import apply_video  # noqa: E402
from vidswap.video import VideoWriter, open_source, open_video  # noqa: E402


def make_clip(path: Path, frames: int) -> list[np.ndarray]:
    big = np.asarray(Image.fromarray(astronaut()).resize((1600, 1600)))
    images = []
    for i in range(frames):
        k = min(i % 200, 200 - i % 200)  # pan back and forth, so any length fits the photo
        images.append(np.ascontiguousarray(big[20 + 2 * k : 740 + 2 * k, 40 + 3 * k : 1320 + 3 * k]))
    make_video(path, images, rate=30, time_base=Fraction(1, 15360), audio_seconds=frames / 30)
    return images


def plain_decode(path: Path) -> int:
    n = 0
    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "AUTO"
        for frame in c.decode(video=0):
            frame.to_ndarray(format="rgb24")
            n += 1
    return n


def vidswap_decode(path: Path) -> int:
    with open_video(path) as reader:
        return sum(1 for _ in reader)


def plain_encode(images: list[np.ndarray], out: Path) -> int:
    with av.open(str(out), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = images[0].shape[1], images[0].shape[0], "yuv420p"
        s.options = {"crf": "18", "preset": "medium"}
        for i, image in enumerate(images):
            f = av.VideoFrame.from_ndarray(image, format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return len(images)


def vidswap_encode(images: list[np.ndarray], out: Path) -> int:
    with VideoWriter(out, width=images[0].shape[1], height=images[0].shape[0], time_base=Fraction(1, 30),
                     frame_rate=30) as writer:  # fmt: skip
        for i, image in enumerate(images):
            writer.write(image, i)
    return len(images)


def plain_transcode(path: Path, out: Path) -> int:
    """The loop a user would write: decode, to RGB, back to a frame, encode, remux audio."""
    n = 0
    with av.open(str(path)) as src, av.open(str(out), "w") as dst:
        v_in, a_in = src.streams.video[0], src.streams.audio[0]
        v_in.thread_type = "AUTO"
        v_out = dst.add_stream("libx264", rate=v_in.average_rate)
        v_out.width, v_out.height, v_out.pix_fmt = v_in.width, v_in.height, "yuv420p"
        v_out.options = {"crf": "18", "preset": "medium"}
        a_out = dst.add_stream_from_template(a_in)
        for packet in src.demux(v_in, a_in):
            if packet.stream is a_in:
                if packet.size:
                    packet.stream = a_out
                    dst.mux(packet)
                continue
            for frame in packet.decode():
                image = frame.to_ndarray(format="rgb24")
                out_frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                out_frame.pts, out_frame.time_base = frame.pts, frame.time_base
                dst.mux(v_out.encode(out_frame))
                n += 1
        dst.mux(v_out.encode(None))
    return n


def timed(fn, repeat: int) -> float:
    """Best frames/s over `repeat` runs."""
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        frames = fn()
        best = max(best, frames / (time.perf_counter() - start))
    return best


def identity_apply(clip: Path, out: Path) -> int:
    return apply_video(open_source(clip), out, lambda frames: [f.image for f in frames]).frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip720.mp4"
        images = make_clip(clip, args.frames)
        rows = [
            ("decode", timed(lambda: vidswap_decode(clip), args.repeat),
             timed(lambda: plain_decode(clip), args.repeat)),
            ("encode", timed(lambda: vidswap_encode(images, tmp / "a.mp4"), args.repeat),
             timed(lambda: plain_encode(images, tmp / "b.mp4"), args.repeat)),
            ("identity apply", timed(lambda: identity_apply(clip, tmp / "c.mp4"), args.repeat),
             timed(lambda: plain_transcode(clip, tmp / "d.mp4"), args.repeat)),
        ]  # fmt: skip
    print(f"1280x720, {args.frames} frames, H.264 CRF 18 preset medium, best of {args.repeat}")
    print(f"{'work':<16}{'vidswap fps':>12}{'plain PyAV fps':>16}{'ratio':>8}")
    for name, ours, plain in rows:
        print(f"{name:<16}{ours:>12.1f}{plain:>16.1f}{ours / plain:>8.2f}")


if __name__ == "__main__":
    main()
