"""The built-in demo: the whole loop with a known answer, on photos the installed packages ship.

Domain A is crops of scikit-image's sample photos; domain B is a fixed, known transform T
of other crops of the same photos (so the two collections are unpaired). A small
translator is trained for a bounded time, applied to a held-out clip (a camera moving
over matplotlib's Grace Hopper photo, with a tone as audio), and judged against the
truth T(frame): PSNR of the translation and of the untranslated input, and the warping
error of the output beside the input's own. scripts/quality_check.py uses the same photos,
crops and PSNR to compare the training methods.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from trainer.config import load_config
from trainer.data import collect_images
from trainer.export import refresh_batch_norm, save_trained_model
from trainer.loop import train
from vidswap.api import Translator, TranslatorSettings, VideoSettings
from vidswap.errors import ConfigError, MissingDependency
from vidswap.fsutil import atomic_path, atomic_write_text
from vidswap.metrics import high_frequency_energy, psnr
from vidswap.metrics.warping import warping_error
from vidswap.video import open_video

TRANSFORM = "sepia tone: the luminance tinted brown, blacks lifted"
SEPIA = np.array([1.1, 0.9, 0.65], np.float32), np.array([18, 12, 4], np.float32)  # per-channel gain, offset


def transform(x: np.ndarray) -> np.ndarray:
    """The known B = T(A) (uint8 ... x 3, RGB): an old-photo grade. A grade rather than, say,
    a negative, because here the untranslated input already beats a flat grey guess, so a
    PSNR gain over the input can only come from learning the grade."""
    luminance = x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    gain, offset = SEPIA
    return np.clip(luminance[..., None] * gain + offset, 0, 255).round().astype(np.uint8)


def photos() -> tuple[list[np.ndarray], np.ndarray]:
    """Training photos (scikit-image's) and a held-out one (matplotlib's Grace Hopper)."""
    try:
        import matplotlib.cbook
        from skimage import data
    except ImportError:
        raise MissingDependency("scikit-image and matplotlib", "vidswap demo", extra="demo") from None

    # the colour wheel and the stained tissue give the training set hues the four scenes
    # lack (greens, purples), so a grade learned on it holds for a held-out photo's colours
    train_set = [
        data.astronaut(),
        data.coffee(),
        data.chelsea(),
        data.rocket(),
        data.colorwheel(),
        data.immunohistochemistry(),
    ]
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        held_out = np.asarray(Image.open(f).convert("RGB"))
    return train_set, held_out


def rescale(image: np.ndarray, scale: float) -> np.ndarray:
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((round(w * scale), round(h * scale)), Image.BICUBIC))


def crops(images: list[np.ndarray], n: int, size: int, rng: np.random.Generator, scale: float) -> list[np.ndarray]:
    """Random size x size crops of the photos shrunk by `scale` (so a crop shows a scene, not texture)."""
    small = [rescale(im, scale) for im in images]
    out = []
    for _ in range(n):
        im = small[rng.integers(len(small))]
        y, x = rng.integers(im.shape[0] - size + 1), rng.integers(im.shape[1] - size + 1)
        out.append(im[y : y + size, x : x + size])
    return out


# --- the demo's material ---------------------------------------------------------------

SCALE = 0.35  # photos are shrunk by this for training crops and the clip alike (same scale of detail)
CLIP_SIZE = (192, 144)  # width, height
CLIP_RATE = 24


def write_domains(folder: Path, train_photos: list[np.ndarray], count: int, tile: int, seed: int) -> tuple[Path, Path]:
    """Two unpaired image folders: A = crops, B = T(other crops). Tiles are the loader's
    load size, so training sees them at SCALE with only the random crop and flip on top."""
    rng = np.random.default_rng(seed)
    folders = folder / "A", folder / "B"
    for path, make in zip(folders, (lambda c: c, transform)):
        path.mkdir(parents=True)
        for i, c in enumerate(crops(train_photos, count, tile, rng, SCALE)):
            Image.fromarray(make(c)).save(path / f"{i:04d}.png")
    return folders


def camera_path(image: np.ndarray, count: int, width: int, height: int) -> list[np.ndarray]:
    """`count` frames of a camera drifting over `image` along a smooth loop (sub-pixel
    motion, so the flow and the warping error see natural movement)."""
    import cv2

    h, w = image.shape[:2]
    frames = []
    for i in range(count):
        t = 2 * np.pi * i / count
        x = (w - width - 2) * (0.5 + 0.45 * np.sin(t))
        y = (h - height - 2) * (0.5 + 0.45 * np.sin(2 * t))
        frames.append(cv2.getRectSubPix(image, (width, height), (x + width / 2, y + height / 2)))
    return frames


def write_clip(path: Path, frames: list[np.ndarray], rate: int, audio: bool = True) -> Path:
    """An H.264 clip of `frames` with (optionally) an AAC tone, so the audio passthrough shows."""
    import av

    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12"}
        sound = container.add_stream("aac", rate=44100, layout="mono") if audio else None  # before any packet
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
        if sound:
            samples = 44100 * len(frames) // rate
            tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100, dtype=np.float32)
            for start in range(0, samples, 1024):
                frame = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 44100, start
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return path


# --- training for a bounded time --------------------------------------------------------

METHODS = ("cyclegan", "fastcut", "cut")  # the image-to-image methods; AC-GAN's latent code drops the content
# Tiny networks and a high learning rate: a colour grade needs little capacity. Batch norm,
# not the reference's instance norm, because instance norm hides each image's brightness and
# contrast from the generator, so no tone curve can be learned (tests/training/test_nets.py).
# CycleGAN is the default: in the runs tried CUT and FastCUT kept the input's hues (see
# docs/demo.md for the figures and what is known of why).
# PatchNCE taps the encoder and both blocks (the reference's 12 and 16 assume 9 blocks) of
# the anti-aliased generator (the methods' default), whose blur layers move the blocks to 12.
NCE_LAYERS = {True: "[0,4,8,12,13]", False: "[0,4,8,10,11]"}  # by net.antialias
FAST_SETTINGS = [
    "data.size=32",
    "data.load_size=36",
    "net.ngf=8",
    "net.ndf=16",
    "net.n_blocks=2",
    "net.norm=batch",
    "train.lr=1e-3",
    "train.batch_size=4",
    "cut.num_patches=64",
    "cut.mlp_units=64",
    f"cut.nce_layers={NCE_LAYERS[True]}",
    "data.loader_threads=1",
    "train.log_every=50",
    "train.sample_every=1000000",
    "train.checkpoint_every=1000000",
]
# The demo's generator does not downsample (the reference's does twice): a colour grade is a map
# of each pixel, so it needs no wide view, and on 32 px crops two stride-2 steps leave an 8x8
# grid of 32 channels (2 numbers a pixel) for the whole picture to pass through: the translation
# came out soft and warped. Without them the detail passes, nothing can draw a sampling grid,
# and a step costs about half as much. A cycle weight of 3, not 10: the grade throws hue away,
# and the full weight made the generator keep a trace of it for the way back (a greenish or
# blue background). docs/demo.md has the runs. PatchNCE taps: the input and both blocks.
DEMO_SETTINGS = ["net.n_downsampling=0", "cut.nce_layers=[0,4,5]", "cyclegan.lambda_cycle=3"]
CHUNK_SECONDS = 30.0  # training runs in chunks this long, each ending in a checkpoint
DECAY_SHARE = 0.25  # the learning rate decays to 0 over the last quarter of the time


def chunk_speed(chunks: list[tuple[int, float]]) -> tuple[float, float]:
    """Seconds of start-up a chunk and seconds a step, a least-squares fit of seconds = start-up
    + steps x per step to every chunk's (steps, seconds) so far: a chunk's start-up (networks,
    checkpoint, loader) would otherwise count as training speed and leave the last chunk short,
    and one chunk slowed by the machine would otherwise set the last chunk's size alone."""
    steps, seconds = np.array(chunks, dtype=np.float64).T
    if len(chunks) > 1 and np.ptp(steps) > 0:
        per_step, startup = np.polyfit(steps, seconds, 1)
        if per_step > 0 and startup >= 0:
            return float(startup), float(per_step)
    return 0.0, float(seconds.sum() / steps.sum())


def steps_in(span: float, chunks: list[tuple[int, float]]) -> int:
    """How many steps one chunk can train in `span` seconds, start-up included."""
    startup, per_step = chunk_speed(chunks)
    return max(1, int((span - startup) / per_step))


def train_for(
    cfg,
    images_a: list[Path],
    images_b: list[Path],
    run_dir: Path,
    seconds: float,
    on_step: Callable[[int, int], None] | None = None,
):
    """Train until cfg.train.steps or `seconds` of wall-clock, whichever comes first.

    The loop has no clock, so training runs in chunks, each resuming from the last one's
    checkpoint, sized from the measured speed (chunk_speed): at a constant learning rate
    first (where a chunk boundary changes nothing), then one last chunk with a linear decay
    to zero sized to fill the remaining time. Returns the last TrainResult."""
    total = cfg.train.steps
    began = time.perf_counter()
    done, chunks, result = 0, [], None

    while done < total:
        left = seconds - (time.perf_counter() - began)
        decay_from, chunk_steps = 1.0, 20  # a first short chunk measures the speed
        if chunks:
            if left <= DECAY_SHARE * seconds or done + steps_in(left, chunks) >= total:
                chunk_steps = steps_in(left, chunks)
                decay_from = done / min(total, done + chunk_steps)
            else:  # a constant-rate chunk that ends by the time the decay is due
                chunk_steps = min(
                    max(steps_in(CHUNK_SECONDS, chunks), 2 * chunks[-1][0]),
                    steps_in(left - DECAY_SHARE * seconds, chunks),
                )
        target = min(total, done + chunk_steps)
        chunk = load_config(base=cfg.to_dict(), overrides=[f"train.steps={target}", f"train.decay_from={decay_from}"])
        tick = time.perf_counter()
        result = train(chunk, images_a, images_b, run_dir, show_progress=False)
        chunks.append((result.step - done, time.perf_counter() - tick))
        done = result.step
        if on_step:
            on_step(done, total)
        if decay_from < 1.0:
            break
    return result


# --- judging the result -----------------------------------------------------------------


def read_video(path: Path) -> list[np.ndarray]:
    with open_video(path) as reader:
        return [f.image for f in reader]


def contact_sheet(rows: dict[str, list[np.ndarray]], path: Path, columns: int = 6) -> Path:
    """One labelled row of `columns` evenly spaced frames for each entry of `rows`."""
    from PIL import ImageDraw

    label_width, gap = 110, 4
    picks = np.linspace(0, len(next(iter(rows.values()))) - 1, columns).round().astype(int)
    h, w = next(iter(rows.values()))[0].shape[:2]
    sheet = Image.new("RGB", (label_width + columns * (w + gap), len(rows) * (h + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, frames) in enumerate(rows.items()):
        y = r * (h + gap)
        draw.text((6, y + h // 2 - 6), label, fill="black")
        for c, i in enumerate(picks):
            sheet.paste(Image.fromarray(frames[i]), (label_width + c * (w + gap), y))
    with atomic_path(path) as tmp:
        sheet.save(tmp)
    return path


def machine() -> dict:
    import torch

    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1min"] = round(os.getloadavg()[0], 2)  # other work sharing the CPU slows the demo
    return info


# --- the demo ----------------------------------------------------------------------------


@dataclass
class DemoOptions:
    minutes: float = 6.0  # training wall-clock budget
    max_steps: int = 10000  # and a step budget (what stops training on a fast GPU)
    method: str = "cyclegan"
    overrides: list[str] = field(default_factory=list)  # extra KEY=VALUE settings
    images: int = 400  # training crops per domain
    clip_frames: int = 72
    seed: int = 0


@dataclass
class DemoReport:
    transform: str
    method: str
    steps: int
    psnr_translation: float  # dB against the true transform T(frame)
    psnr_input: float  # the untranslated frame against T(frame): what no training scores
    warping_error: dict  # of the output (as apply writes it, smoothed) and of the input itself (lower: steadier)
    warping_error_unsmoothed: dict  # the same for the generator's own output (`--smooth none`)
    high_frequency: dict  # energy above half Nyquist of the output, the unsmoothed output and the truth
    seconds: dict[str, float]  # by stage
    machine: dict
    files: dict[str, str]

    @property
    def gain_db(self) -> float:
        return self.psnr_translation - self.psnr_input


FILES = {
    "translated": "translated.mp4",
    "preview": "side_by_side.mp4",
    "contact_sheet": "contact_sheet.png",
    "input": "input.mp4",
    "unsmoothed": "work/unsmoothed.mp4",
    "model": "model",
    "report_json": "report.json",
    "report_md": "report.md",
}


def run_demo(
    out_dir: str | os.PathLike,
    options: DemoOptions | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> DemoReport:
    """Build the data, train, apply to the held-out clip, judge it; write everything into
    out_dir (a rerun replaces the previous results there)."""
    o = options or DemoOptions()
    if o.method not in METHODS:
        raise ConfigError(f"demo method must be one of {', '.join(METHODS)}, got {o.method!r}")
    if o.minutes <= 0 or o.max_steps < 1:
        raise ConfigError("the demo needs a positive --minutes and --steps")
    out = Path(out_dir)
    paths = {k: out / v for k, v in FILES.items()}
    work = out / "work"  # training data and the training run (losses, samples)
    shutil.rmtree(work, ignore_errors=True)  # a rerun trains afresh
    seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(name: str):
        if on_stage:
            on_stage(name)
        began = time.perf_counter()
        yield
        seconds[name] = round(time.perf_counter() - began, 1)

    with stage("making the photo collections and the clip"):
        train_photos, held_out = photos()
        cfg = load_config(
            o.method,
            [],
            FAST_SETTINGS + DEMO_SETTINGS + list(o.overrides) + [f"train.steps={o.max_steps}", f"train.seed={o.seed}"],
        )
        tile = cfg.data.load_size or cfg.data.size
        folder_a, folder_b = write_domains(work / "data", train_photos, o.images, tile, o.seed)
        write_clip(paths["input"], camera_path(rescale(held_out, SCALE), o.clip_frames, *CLIP_SIZE), CLIP_RATE)
    with stage("training"):
        images_a, images_b = collect_images([str(folder_a)]), collect_images([str(folder_b)])
        result = train_for(cfg, images_a, images_b, work / "run", o.minutes * 60, on_step)
        data = {"A": {"name": "photos", "images": len(images_a)}, "B": {"name": "photos_T", "images": len(images_b)}}
        refresh_batch_norm(cfg, result.method, images_a, images_b)
        save_trained_model(paths["model"], "demo", cfg, result.method, result.step, data)
    with stage("applying to the clip"):
        # as `vidswap apply` does it (smoothing included), and once more without smoothing, so
        # the report tells the generator's own steadiness and grid from what smoothing adds
        settings = TranslatorSettings(model=str(paths["model"]), backend="torch", mode="frame")
        Translator(settings).apply(
            paths["input"], paths["translated"], VideoSettings(preview=str(paths["preview"])), overwrite=True
        )
        Translator(replace(settings, smooth="none")).apply(paths["input"], paths["unsmoothed"], overwrite=True)
    with stage("measuring"):
        inputs, outputs, raw = (read_video(paths[k]) for k in ("input", "translated", "unsmoothed"))
        truth = [transform(f) for f in inputs]
        contact_sheet({"input": inputs, "translation": outputs, "true transform": truth}, paths["contact_sheet"])
        warping = warping_error(zip(inputs, outputs)).to_dict()
        unsmoothed = warping_error(zip(inputs, raw)).to_dict()
        high = {
            k: high_frequency_energy(np.stack(v))
            for k, v in (("output", outputs), ("unsmoothed", raw), ("truth", truth))
        }
    report = DemoReport(
        transform=TRANSFORM,
        method=o.method,
        steps=result.step,
        psnr_translation=round(psnr(np.stack(outputs), np.stack(truth)), 2),
        psnr_input=round(psnr(np.stack(inputs), np.stack(truth)), 2),
        warping_error=rounded(warping, 5),
        warping_error_unsmoothed=rounded(unsmoothed, 5),
        high_frequency=rounded(
            {**high, "ratio": high["output"] / high["truth"], "unsmoothed_ratio": high["unsmoothed"] / high["truth"]},
            3,
        ),
        seconds={**seconds, "total": round(sum(seconds.values()), 1)},
        machine=machine(),
        files={k: str(p) for k, p in paths.items()},
    )
    write_report(report, paths["report_json"], paths["report_md"])
    return report


def rounded(values: dict, digits: int) -> dict:
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in values.items()}


def write_report(r: DemoReport, json_path: Path, md_path: Path) -> None:
    atomic_write_text(json_path, json.dumps({**asdict(r), "gain_db": round(r.gain_db, 2)}, indent=2) + "\n")
    w, wu, hf = r.warping_error, r.warping_error_unsmoothed, r.high_frequency
    lines = [
        "# vidswap demo",
        "",
        f"Domain B is a known transform of photos like domain A's ({r.transform}); the two training "
        f"collections are unpaired. {r.method} trained for {r.steps} steps, then translated a held-out clip.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| PSNR of the translation vs the true transform | {r.psnr_translation:.2f} dB |",
        f"| PSNR of the untranslated input vs the true transform | {r.psnr_input:.2f} dB |",
        f"| gain | {r.gain_db:+.2f} dB |",
        f"| warping error of the output / of the input (ratio) | {w['output']} / {w['input']} ({w['ratio']}) |",
        f"| the same without smoothing (`--smooth none`) | {wu['output']} / {wu['input']} ({wu['ratio']}) |",
        f"| energy above half Nyquist, output / true transform (ratio) "
        f"| {hf['output']} / {hf['truth']} ({hf['ratio']}) |",
        f"| the same without smoothing | {hf['unsmoothed']} / {hf['truth']} ({hf['unsmoothed_ratio']}) |",
        *(f"| time: {stage} | {s:.1f} s |" for stage, s in r.seconds.items()),
        f"| machine | {r.machine['cpu_cores']} CPU cores, GPU: {r.machine['gpu'] or 'none'}, "
        f"load average {r.machine.get('load_average_1min', '?')}, torch {r.machine['torch']} |",
        "",
    ]
    atomic_write_text(md_path, "\n".join(lines))
