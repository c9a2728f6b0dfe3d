"""Unpaired sampling of training images from image folders and extracted datasets.

A batch is a pure function of (seed, rank, step): resuming at step N draws exactly the
batches an uninterrupted run would have, with no sampler state to save, and batches
can be decoded ahead in threads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidswap.errors import InputError
from vidswap.metrics.flow import FlowEstimator, to_gray
from vidswap.video import VIDEO_EXTENSIONS

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
RECORDS, SETTINGS = "records.jsonl", "dataset.json"  # an extract dataset's files (vidswap.extract)
MAX_PAIR_GAP = 0.25  # seconds between two crops that train.temporal_mode=flow pairs


def _records(folder: Path) -> list[dict]:
    """An extract dataset's records, each with `crop` made a full path."""
    records = []
    with open(folder / RECORDS) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                records.append({**record, "crop": folder / record["crop"]})
            except (ValueError, KeyError, TypeError):
                raise InputError(f"{folder / RECORDS} line {n}: expected a JSON object with a 'crop' path") from None
    return records


def dataset_images(folder: Path) -> list[Path]:
    """The crops listed in an extract dataset's records.jsonl (paths relative to the folder)."""
    return [r["crop"] for r in _records(folder)]


def _datasets(images: list[Path]) -> set[Path]:
    """The extract datasets the images are crops of (each crop is DATASET/crops/SOURCE/FILE)."""
    return {p.parents[2] for p in images if len(p.parents) > 2 and (p.parents[2] / RECORDS).is_file()}


def face_margins(images: list[Path]) -> set[float]:
    """The face margins (`vidswap extract --margin`) that the face datasets among the images
    were aligned with, from each one's dataset.json."""
    margins = set()
    for folder in _datasets(images):
        try:
            settings = json.loads((folder / SETTINGS).read_text())["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not one vidswap wrote: nothing known of its alignment
        if settings.get("mode") == "face" and isinstance(settings.get("margin"), (int, float)):
            margins.add(float(settings["margin"]))
    return margins


def successors(images: list[Path]) -> dict[int, int]:
    """index -> index of the next frame's crop of the same clip and face, for the images that
    extract datasets list (records.jsonl holds their source, track and time); at most
    MAX_PAIR_GAP apart, so a skipped stretch or a cut is no pair."""
    facts = {r["crop"]: r for folder in _datasets(images) for r in _records(folder)}
    clips: dict[tuple, list[tuple[float, int]]] = {}
    for i, path in enumerate(images):
        r = facts.get(path)
        if r is not None and isinstance(r.get("time"), (int, float)):
            clips.setdefault((r.get("source"), r.get("track")), []).append((r["time"], i))
    pairs = {}
    for frames in clips.values():
        frames.sort()
        for (t0, i), (t1, j) in zip(frames, frames[1:]):
            if 0 < t1 - t0 <= MAX_PAIR_GAP:
                pairs[i] = j
    return pairs


def collect_images(sources: list[str], videos_to_dataset=None) -> list[Path]:
    """Every training image of one domain. `videos_to_dataset(list_of_videos) -> dataset dir`
    turns raw videos into an extract dataset (cached); without it video sources are an error."""
    images: list[Path] = []
    videos: list[Path] = []
    for source in sources:
        path = Path(source)
        if not path.exists():
            raise InputError(f"source {source} does not exist")
        if path.is_dir() and (path / RECORDS).is_file():
            images += dataset_images(path)
            continue
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        images += [p for p in files if p.suffix.lower() in IMAGE_EXTS]
        videos += [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS]
    if videos:
        if videos_to_dataset is None:
            raise InputError(f"{videos[0]} is a video: extract a dataset first with `vidswap extract`")
        images += dataset_images(videos_to_dataset(videos))
    if not images:
        raise InputError(f"no training images in {', '.join(sources)} (images, videos or a `vidswap extract` dataset)")
    return images


@dataclass(frozen=True)
class Augment:
    size: int  # crop size
    load_size: int  # the shorter side is resized to this first
    flip: bool
    color: float = 0.0  # strength of the random colour change of each crop; 0: none


def training_augment(data) -> Augment:
    """The crop of a run's `data` settings; without a load size, the reference's 286 px for 256."""
    return Augment(data.size, data.load_size or round(data.size * 286 / 256), data.flip, data.color_jitter)


def jitter_color(rgb: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """float RGB in [0, 1] with a random contrast, per-channel gain (white balance, a hue shift)
    and brightness, as face-swap trainers do so that a person is not learned as a colour cast."""
    contrast = 1 + rng.uniform(-strength, strength)
    gain = 1 + rng.uniform(-strength, strength, 3) / 2
    brightness = rng.uniform(-strength, strength) / 4
    mean = rgb.mean()
    return np.clip(((rgb - mean) * contrast + mean) * gain + brightness, 0.0, 1.0)


def load_image(path: Path, aug: Augment, rng: np.random.Generator) -> torch.Tensor:
    """Resize the shorter side to load_size, random size x size crop, random flip, random colour
    change (aug.color) -> CHW in [-1, 1]."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
    except OSError as exc:
        raise InputError(f"cannot read training image {path}: {exc}") from None
    w, h = im.size
    scale = aug.load_size / min(w, h)
    nw, nh = max(aug.size, round(w * scale)), max(aug.size, round(h * scale))
    im = im.resize((nw, nh), Image.BICUBIC)
    x0, y0 = int(rng.integers(nw - aug.size + 1)), int(rng.integers(nh - aug.size + 1))
    arr = np.asarray(im)[y0 : y0 + aug.size, x0 : x0 + aug.size]
    if aug.flip and rng.random() < 0.5:
        arr = arr[:, ::-1]
    if aug.color > 0:
        arr = jitter_color(arr / 255.0, aug.color, rng) * 255.0
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


class UnpairedSampler:
    """Batches {"A": [B,3,S,S], "B": [B,3,S,S]}, A and B drawn independently (unpaired).

    For each domain in `consecutive` (train.temporal_mode=flow), images are drawn among those
    with a next frame, and the batch also holds "<domain>_next" (that frame, cropped and
    flipped alike), "<domain>_flow" [B,2,S,S] (DIS flow from it back to the image, in pixels)
    and "<domain>_valid" [B,1,S,S] (1 where the flow passed its forward-backward check).
    For each domain in `triplets` (train.recycle), images are drawn among those with two next
    frames, and the batch also holds "<domain>_frames" [B,3,3,S,S]: the image and its next two
    frames under one random crop, flip and colour change."""

    def __init__(
        self,
        images_a: list[Path],
        images_b: list[Path],
        aug: Augment,
        batch_size: int,
        seed: int,
        rank: int = 0,
        consecutive: tuple[str, ...] = (),
        triplets: tuple[str, ...] = (),
    ):
        self.domains = {"A": images_a, "B": images_b}
        self.aug = aug
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.next = {name: successors(self.domains[name]) for name in consecutive}
        for name, pairs in self.next.items():
            if not pairs:
                raise InputError(
                    f"train.temporal_mode=flow needs consecutive frames, and domain {name} has none "
                    "(use a dataset extracted from clips by `vidswap extract`, or train.temporal_mode=transform)"
                )
        self.triplets = {}  # domain -> first frame index -> the next two frames' indices
        for name in triplets:
            pairs = successors(self.domains[name])
            self.triplets[name] = {i: (j, pairs[j]) for i, j in pairs.items() if j in pairs}
            if not self.triplets[name]:
                raise InputError(
                    f"train.recycle needs three consecutive frames of a clip, and domain {name} has none "
                    "(use a dataset extracted from clips by `vidswap extract`)"
                )

    def _pair(self, first: Path, second: Path, rng: np.random.Generator) -> list[torch.Tensor]:
        """Two frames under one random crop and flip, and the flow from the second to the first."""
        a, b = self._frames([first, second], rng).unbind()
        gray_a, gray_b = (to_gray(x.add(1).mul(127.5).round().byte().permute(1, 2, 0).numpy()) for x in (a, b))
        flow = FlowEstimator(max_side=None, preset="medium").pair(gray_b, gray_a)
        return [a, b, torch.from_numpy(flow.flow).permute(2, 0, 1), torch.from_numpy(flow.valid)[None].float()]

    def _frames(self, paths: list[Path], rng: np.random.Generator) -> torch.Tensor:
        """Frames of a clip under one random crop, flip and colour change: N,3,S,S."""
        seed = int(rng.integers(2**63))
        return torch.stack([load_image(p, self.aug, np.random.default_rng(seed)) for p in paths])

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.rank, step])
        out = {}
        for name, paths in self.domains.items():
            if name in self.triplets:
                firsts = sorted(self.triplets[name])
                picks = [firsts[k] for k in rng.integers(len(firsts), size=self.batch_size)]
                frames = [self._frames([paths[i]] + [paths[j] for j in self.triplets[name][i]], rng) for i in picks]
                out[name + "_frames"] = torch.stack(frames)
                out[name] = out[name + "_frames"][:, 0]
                continue
            if name in self.next:
                firsts = sorted(self.next[name])
                picks = [firsts[k] for k in rng.integers(len(firsts), size=self.batch_size)]
                pairs = [self._pair(paths[i], paths[self.next[name][i]], rng) for i in picks]
                for key, parts in zip(("", "_next", "_flow", "_valid"), zip(*pairs, strict=True), strict=True):
                    out[name + key] = torch.stack(parts)
                continue
            picks = rng.integers(len(paths), size=self.batch_size)
            out[name] = torch.stack([load_image(paths[i], self.aug, rng) for i in picks])
        return out

    def batches(self, start: int, stop: int, threads: int = 2) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
        """(step, batch) for steps start+1 .. stop, decoded `threads` batches ahead."""
        with ThreadPoolExecutor(max(1, threads)) as pool:
            ahead = {}
            for step in range(start + 1, stop + 1):
                for s in range(step, min(stop, step + threads) + 1):
                    if s not in ahead:
                        ahead[s] = pool.submit(self.batch, s)
                yield step, ahead.pop(step).result()
            for fut in ahead.values():
                fut.cancel()
