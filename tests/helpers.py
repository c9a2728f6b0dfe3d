"""Test helpers: videos made with PyAV from real photos that packages ship, the CLI run
in-process. (Image scores: vidswap.metrics.) A plain module: tests import it, conftest.py only
holds fixtures."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from skimage import data

from vidswap.cli.main import main

REPO = Path(__file__).resolve().parents[1]
FOOTAGE = REPO.parent / "shared" / "footage"


def astronaut() -> np.ndarray:
    return data.astronaut()


def panned_frames(count: int, width: int, height: int, image: np.ndarray | None = None) -> list[np.ndarray]:
    """Crops of a real photo moving a little each frame: natural, compressible motion."""
    image = astronaut() if image is None else image
    frames = []
    for i in range(count):
        x, y = 40 + 3 * i, 30 + 2 * i
        crop = image[y : y + height, x : x + width]
        frames.append(np.ascontiguousarray(crop))
    return frames


def make_video(
    path: Path,
    frames: list[np.ndarray],
    pts: list[int] | None = None,
    time_base: Fraction = Fraction(1, 1000),
    rate: int = 25,
    audio_seconds: float = 0.0,
    rotation: int = 0,
    codec: str = "libx264",
) -> Path:
    """Write `frames` at `pts` (default: constant `rate`) with optional AAC audio and a
    display rotation, the way a camera would store them."""
    height, width = frames[0].shape[:2]
    if pts is None:
        pts = [round(i / rate / time_base) for i in range(len(frames))]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.options = {"crf": "12"}
        if rotation:
            stream.set_display_rotation(rotation)
        audio = None
        if audio_seconds:
            audio = container.add_stream("aac", rate=44100)
            audio.layout = "stereo"
        for image, t in zip(frames, pts):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None:
            samples = int(44100 * audio_seconds)
            tone = np.sin(2 * np.pi * 440 * np.arange(samples) / 44100).astype(np.float32)
            chunk = 1024
            for start in range(0, samples, chunk):
                block = np.stack([tone[start : start + chunk]] * 2)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="stereo")
                frame.sample_rate = 44100
                frame.pts = start
                container.mux(audio.encode(frame))
            container.mux(audio.encode(None))
    return path


def audio_packets(path: Path) -> list[tuple[float, bytes]]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        return [(float(p.pts * p.time_base), bytes(p)) for p in container.demux(container.streams.audio) if p.size]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the `vidswap` entry point in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def tiny_model(folder: Path, mode: str, size: int = 64, extra: dict | None = None) -> Path:
    """A random ResNet generator saved in the model format (ngf 4, one block): fast, and it visibly changes
    images. `extra`: the card's extra (e.g. the training config)."""
    import torch

    from vidswap.models import ModelCard, save_model
    from vidswap.nets.generators import ResnetGenerator

    torch.manual_seed(0)
    generator = ResnetGenerator(ngf=4, n_blocks=1)
    card = ModelCard(
        name=folder.name, method="cyclegan", mode=mode, size=size,
        generators={"AtoB": {"class": "ResnetGenerator", "kwargs": generator.kwargs}}, extra=extra or {},
    )  # fmt: skip
    return save_model(folder, card, {"AtoB": generator})


def make_library(root: Path, clips: dict[str, tuple[int, float]]) -> Path:
    """A folder tree of small panned clips: relative path -> (frames, audio seconds); each clip
    starts at a different offset, so no two are the same."""
    for i, (rel, (frames, audio)) in enumerate(clips.items()):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        make_video(root / rel, panned_frames(frames + i, 48, 32)[i:], audio_seconds=audio)
    return root


def count_opens(monkeypatch) -> list[Path]:
    """Every file av.open opens from now on (resolved), in order: how often a command reads its inputs."""
    real_open, opened = av.open, []

    def counting_open(file, *args, **kwargs):
        opened.append(Path(str(file)).resolve())
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    return opened
