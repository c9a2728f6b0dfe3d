"""Turn collections of clips and photos into training sets of aligned face crops
(or whole frames).

Layout of a dataset folder:
    dataset.json          the settings it was made with (a rerun must use the same)
    crops/<source>/...    one image a crop
    records.jsonl         one JSON object a crop; `crop` is its path relative to the folder
    summary.json          counts per source and in total
    sources/<key>.json    one per finished source: its file fingerprint, stats and records

Resumable: a source is finished when its `sources/<key>.json` exists (written last,
atomically); a rerun skips finished sources whose file is unchanged. Every file is
written to a temporary name and renamed, so a killed run leaves no half-written crop.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vidswap.choices import DataMode, FaceSelection, choices
from vidswap.errors import ConfigError, InputError, OutputError
from vidswap.faces.align import Alignment, align_face, check_size, fit_frame, warp_to_crop
from vidswap.faces.detect import FaceDetector
from vidswap.faces.follow import FaceFollower
from vidswap.faces.track import track_faces
from vidswap.fsutil import atomic_write_bytes, atomic_write_text
from vidswap.settings import FACE_MARGIN
from vidswap.video import VIDEO_EXTENSIONS, count_frames, open_source, open_video, read_frames

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
RECORDS, SUMMARY, SETTINGS, CROPS, DONE = "records.jsonl", "summary.json", "dataset.json", "crops", "sources"
FORMAT_VERSION = 1
_READ_CHUNK = 16  # frames decoded (and detected) together


@dataclass(frozen=True)
class ExtractSettings:
    mode: DataMode = "face"  # face: aligned face crops; frame: whole frames fitted to size x size
    size: int = 256
    every: int | None = None  # every N-th frame of a clip ...
    max_per_clip: int | None = None  # ... or up to K frames spread evenly (neither: every frame)
    image_format: str = "png"  # png | jpg
    margin: float = FACE_MARGIN  # face mode: room around the face template
    faces: FaceSelection = "largest"  # face mode: the main face (the largest over time) or all
    min_prob: float = 0.9
    min_face: int = 20  # pixels: smaller faces are ignored; raising it speeds detection up a lot
    fit: str = "crop"  # frame mode: centre-crop or pad to the square
    min_change: float = 0.01  # a crop differing from the last one kept by less is a duplicate

    def __post_init__(self) -> None:
        if self.mode not in choices(DataMode):
            raise ConfigError(f"mode must be one of {', '.join(choices(DataMode))}, got {self.mode!r}")
        if self.mode == "face":
            check_size(self.size)
        elif not 16 <= self.size <= 4096:
            raise ConfigError(f"frame size must be 16 to 4096, got {self.size}")
        if self.every is not None and self.max_per_clip is not None:
            raise ConfigError("choose --every or --max-per-clip, not both")
        if (self.every is not None and self.every < 1) or (self.max_per_clip is not None and self.max_per_clip < 1):
            raise ConfigError("--every and --max-per-clip must be at least 1")
        if self.image_format not in ("png", "jpg"):
            raise ConfigError(f"image format must be png or jpg, got {self.image_format!r}")
        if self.faces not in choices(FaceSelection):
            raise ConfigError(f"faces must be one of {', '.join(choices(FaceSelection))}, got {self.faces!r}")
        if not 0 <= self.min_change < 1:
            raise ConfigError(f"min_change must be in [0, 1), got {self.min_change}")


@dataclass
class SourceStats:
    source: str
    kind: str  # video | image
    frames: int = 0  # sampled frames read
    with_face: int = 0  # of those, frames where a face was found (face mode)
    faces: int = 0  # faces found (all of them, before --faces selection)
    crops: int = 0  # crops written
    duplicates: int = 0  # crops skipped as near-duplicates of the previous one
    warnings: list[str] = field(default_factory=list)
    error: str | None = None  # why the source could not be read (it is then not finished)
    skipped: bool = False  # finished by an earlier run


@dataclass
class ExtractSummary:
    dataset: Path
    settings: ExtractSettings
    sources: list[SourceStats]

    def total(self, name: str, kind: str | None = None) -> int:
        return sum(getattr(s, name) for s in self.sources if kind is None or s.kind == kind)

    @property
    def clips(self) -> int:
        return sum(s.kind == "video" for s in self.sources)

    @property
    def no_face(self) -> list[SourceStats]:
        """Readable sources where face mode found no face at all."""
        if self.settings.mode != "face":
            return []
        return [s for s in self.sources if s.error is None and s.frames and not s.with_face]

    @property
    def failed(self) -> list[SourceStats]:
        return [s for s in self.sources if s.error is not None]

    @property
    def processed(self) -> int:
        return sum(not s.skipped and s.error is None for s in self.sources)


@dataclass(frozen=True)
class Progress:
    """What the progress callback is told: at a source's start (frames_done 0), after
    each chunk of frames, and once more with finished=True."""

    source: Path
    number: int  # 1-based position among this run's sources
    count: int
    frames_done: int
    frames_total: int | None
    finished: bool = False


ProgressCallback = Callable[[Progress], None]


def find_sources(sources: Sequence[str | os.PathLike], exclude: Path | None = None) -> list[Path]:
    """Video and image files named or found in folders (recursively), sorted, without
    repeats and without anything inside `exclude` (the dataset being written)."""
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if not path.exists():
            raise InputError(f"{source}: no such file or folder")
        if path.is_dir():
            inside = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS | IMAGE_EXTS
            )
            if exclude is not None:
                inside = [p for p in inside if not p.resolve().is_relative_to(exclude)]
            if not inside:
                raise InputError(f"{source}: no video or image files in this folder")
            found += inside
        else:
            found.append(path)  # named explicitly: tried as a video unless it is an image
    unique = {p.resolve(): None for p in found}
    return list(unique)


def extract_dataset(
    sources: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    progress: ProgressCallback | None = None,
    detector=None,
    device: str = "auto",
    **settings,
) -> ExtractSummary:
    """Extract crops from `sources` (videos, images, folders) into the dataset `out_dir`.

    `settings` are ExtractSettings fields. Without `detector` (a FaceDetector) one is made
    on `device` at the first detection, so a rerun with nothing to do loads no model.
    Sources that cannot be read are reported in the summary's `failed` and not marked
    finished; if none can be read it is an InputError."""
    config = ExtractSettings(**settings)
    out = Path(out_dir).resolve()
    files = find_sources(sources, exclude=out)
    created = _claim(out, config)
    stats: list[SourceStats] = []
    changed = False
    for number, path in enumerate(files, 1):
        key = _source_key(path)
        done = out / DONE / f"{key}.json"
        if _is_finished(done, path):
            stats.append(SourceStats(**{**json.loads(done.read_text())["stats"], "skipped": True}))
            if progress:
                progress(Progress(path, number, len(files), 0, 0, finished=True))
            continue
        extractor = _SourceExtractor(path, out, key, config, detector or device, number, len(files), progress)
        try:
            records = extractor.run()
        except InputError as exc:
            shutil.rmtree(extractor.crop_dir, ignore_errors=True)
            extractor.stats.error = str(exc)
            stats.append(extractor.stats)
            continue
        except BaseException:  # stopped (Ctrl-C, SIGTERM): no crops of an unfinished source stay
            shutil.rmtree(extractor.crop_dir, ignore_errors=True)
            raise
        finally:
            detector = extractor.detector  # made once, kept for the next sources
        _write_json(done, {"fingerprint": _fingerprint(path), "stats": asdict(extractor.stats), "records": records})
        stats.append(extractor.stats)
        changed = True
    summary = ExtractSummary(out, config, stats)
    if stats and len(summary.failed) == len(stats):
        if created:  # leave no empty dataset behind
            shutil.rmtree(out, ignore_errors=True)
        raise InputError(f"no source could be read: {summary.failed[0].error}")
    if changed or not (out / RECORDS).exists():
        _write_index(out, summary)
    return summary


def ensure_dataset(
    sources: Sequence[str | os.PathLike],
    cache_root: str | os.PathLike,
    *,
    progress: ProgressCallback | None = None,
    detector=None,
    device: str = "auto",
    **settings,
) -> Path:
    """A dataset of `sources` under `cache_root`, extracted on first use. The folder is
    named by a hash of the source files (paths, sizes, mtimes) and the settings, so a
    changed file or setting gets a fresh dataset; an interrupted fill resumes."""
    config = ExtractSettings(**settings)
    files = find_sources(sources)
    digest = hashlib.sha256(
        json.dumps(
            {"files": [[str(p), *_fingerprint(p).values()] for p in files], "settings": asdict(config)},
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    out = Path(cache_root) / digest
    extract_dataset(files, out, progress=progress, detector=detector, device=device, **asdict(config))
    return out


def read_records(dataset: str | os.PathLike) -> list[dict]:
    """The records of a dataset, in order; `crop` is relative to the dataset folder."""
    path = Path(dataset) / RECORDS
    if not path.is_file():
        raise InputError(f"{dataset}: not a vidswap extract dataset (no {RECORDS})")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class _SourceExtractor:
    """Extracts one source: detect faces in its sampled frames, link them into tracks,
    then read those frames again to cut and write the crops. Two reads keep memory to
    a chunk of frames; decoding costs far less than detection."""

    def __init__(self, path, out, key, config, detector, number, count, progress):
        self.path, self.out, self.config = path, out, config
        self.detector = detector  # a FaceDetector, or the device to make one on
        self.crop_dir = out / CROPS / key
        self.kind = "image" if path.suffix.lower() in IMAGE_EXTS else "video"
        self.stats = SourceStats(source=str(path), kind=self.kind)
        self._number, self._count, self._progress = number, count, progress
        self._last: dict[int | None, np.ndarray] = {}  # last kept thumbnail per track

    def run(self) -> list[dict]:
        # leftovers of a run killed in the middle of this source are stale
        shutil.rmtree(self.crop_dir, ignore_errors=True)
        with _Sampler(self.path, self.kind, self.config) as sampler:
            self._total = sampler.total
            self._report(0, sampler.total)
            if self.config.mode == "frame":
                records = [r for frame in sampler.frames() for r in self._frame_crops(frame)]
            else:
                records = self._face_crops(sampler)
        self.stats.frames = sampler.read
        self.stats.warnings = sampler.warnings
        self._report(sampler.read, sampler.read, finished=True)
        return records

    def _report(self, done: int, total: int | None, finished: bool = False) -> None:
        if self._progress:
            self._progress(Progress(self.path, self._number, self._count, done, total, finished))

    def _frame_crops(self, frame) -> list[dict]:
        h, w = frame.image.shape[:2]
        fit = fit_frame((w, h), self.config.size, self.config.fit)
        self._report(frame.number + 1, self._total)
        record = self._write(frame, None, fit, warp_to_crop(frame.image, fit))
        return [record] if record else []

    def _face_crops(self, sampler: _Sampler) -> list[dict]:
        if isinstance(self.detector, str):
            self.detector = FaceDetector(
                device=self.detector, min_prob=self.config.min_prob, min_size=self.config.min_face
            )
        # consecutive frames: detected every few, faces followed in between (as face mode
        # does); sampled frames lie too far apart to follow, each is searched, as is every
        # frame by the reference detector (full resolution)
        follow = sampler.consecutive and self.detector.downscale
        find = FaceFollower(self.detector) if follow else self.detector.detect
        detections, times, indices = [], [], []
        for chunk in _chunks(sampler.frames(), _READ_CHUNK):
            detections += find([f.image for f in chunk])
            times += [f.time for f in chunk]
            indices += [f.index for f in chunk]
            self._report(len(detections), sampler.total)
        self.stats.faces = sum(map(len, detections))
        self.stats.with_face = sum(bool(d) for d in detections)
        # tracks only name the faces (training wants every detected face, so nothing is
        # dropped or interpolated); landmarks stay raw, as smoothing over sparse samples
        # would misalign crops
        tracks = track_faces(detections, times, min_length=1)
        wanted: dict[int, list] = {}  # frame index -> [(track id, detection)]
        for track in tracks:
            for pos, d in zip(track.positions, track.det_index):
                if d >= 0:  # an interpolated position had no detection: no crop
                    wanted.setdefault(indices[pos], []).append((track.id, detections[pos][d]))
        if self.config.faces == "largest":
            # the face of the track with the most area over the clip, not the biggest face
            # of the frame: a face printed on a T-shirt can outsize the real one for a moment
            area = {t.id: t.total_area for t in tracks}
            wanted = {i: [max(faces, key=lambda f: area[f[0]])] for i, faces in wanted.items()}
        records = []
        for frame in sampler.frames(only=sorted(wanted)):
            h, w = frame.image.shape[:2]
            for track_id, det in sorted(wanted[frame.index], key=lambda f: f[0]):
                alignment = align_face(det.landmarks, (w, h), self.config.size, self.config.margin)
                record = self._write(frame, (track_id, det), alignment, warp_to_crop(frame.image, alignment))
                if record:
                    records.append(record)
        return records

    def _write(self, frame, face, alignment: Alignment, crop: np.ndarray) -> dict | None:
        track_id = face[0] if face else None
        thumb = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA).astype(
            np.float32
        )
        last = self._last.get(track_id)
        if last is not None and float(np.abs(thumb - last).mean()) / 255.0 < self.config.min_change:
            self.stats.duplicates += 1
            return None
        self._last[track_id] = thumb
        ext = self.config.image_format
        name = f"{frame.index:06d}" + ("" if track_id is None else f"-{track_id}") + f".{ext}"
        params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
        ok, data = cv2.imencode(f".{ext}", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise OutputError(f"could not encode a {ext} crop")
        target = self.crop_dir / name
        atomic_write_bytes(target, data.tobytes())
        self.stats.crops += 1
        det = face[1] if face else None
        return {
            "crop": target.relative_to(self.out).as_posix(),
            "source": str(self.path),
            "frame": frame.index,
            "time": frame.time,
            "track": track_id,
            "score": None if det is None else round(det.score, 5),
            "box": None if det is None else np.round(det.box.astype(float), 2).tolist(),
            "landmarks": None if det is None else np.round(det.landmarks.astype(float), 2).tolist(),
            "transform": alignment.to_json()["matrix"],
            "size": list(alignment.size),
            "frame_size": list(alignment.frame_size),
        }


@dataclass
class _Frame:
    index: int  # frame index in the clip (0 for an image)
    number: int  # position among the sampled frames
    time: float | None
    image: np.ndarray


class _Sampler:
    """The sampled frames of one source, readable more than once with the same result:
    every N-th frame by one sequential decode, or K frames spread evenly by random
    access (decord where installed, PyAV otherwise). A clip is opened once: every pass
    reads from the container its probe opened (vidswap.video.Source)."""

    def __init__(self, path: Path, kind: str, config: ExtractSettings):
        self.path, self.kind = path, kind
        self.every = config.every or 1
        self.indices: list[int] | None = None
        self.total: int | None = 1
        self.warnings: list[str] = []
        self.read = 0
        self.source = open_source(path) if kind == "video" else None
        if self.source:
            video = self.source.info.main_video
            if config.max_per_clip is not None:
                if not video.frame_count_exact:
                    try:
                        video = count_frames(self.source).main_video
                    except BaseException:
                        self.source.close()
                        raise
                n = video.frame_count or 0
                self.indices = sorted(
                    set(np.linspace(0, n - 1, min(config.max_per_clip, n)).round().astype(int).tolist())
                )
                self.total = len(self.indices)
            else:
                self.total = -(-video.frame_count // self.every) if video.frame_count else None

    def __enter__(self) -> _Sampler:
        return self

    def __exit__(self, *exc) -> None:
        if self.source:
            self.source.close()

    @property
    def consecutive(self) -> bool:
        """Every frame of a clip, in order."""
        return self.kind == "video" and self.indices is None and self.every == 1

    def frames(self, only: Sequence[int] | None = None) -> Iterator[_Frame]:
        """Sampled frames in order; `only` restricts them to those frame indices.
        The first full pass counts `read` and collects the reader's warnings."""
        first_pass = only is None and self.read == 0
        count = 0
        for frame in self._all() if only is None else self._some(list(only)):
            if first_pass:
                self.read += 1
            yield frame
            count += 1
        if first_pass and count == 0:
            raise InputError(f"{self.path}: no frames could be decoded")

    def _all(self) -> Iterator[_Frame]:
        if self.kind == "image":
            yield _Frame(0, 0, None, _read_image(self.path))
        elif self.indices is not None:
            yield from self._random(self.indices)
        else:
            with open_video(self.source) as reader:
                number = 0
                for frame in reader:
                    if frame.index % self.every == 0:
                        yield _Frame(frame.index, number, frame.time, frame.image)
                        number += 1
                self.warnings = list(reader.warnings)

    def _some(self, wanted: list[int]) -> Iterator[_Frame]:
        if self.kind == "video" and self.indices is not None:
            yield from self._random(wanted)
            return
        targets = set(wanted)
        for frame in self._all():
            if frame.index in targets:
                yield frame
                if frame.index == wanted[-1]:
                    return

    def _random(self, wanted: list[int]) -> Iterator[_Frame]:
        number = 0
        for chunk in _chunks(iter(wanted), _READ_CHUNK):
            for frame in read_frames(self.source, chunk):
                yield _Frame(frame.index, number, frame.time, frame.image)
                number += 1


def _read_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))  # upright, as shown
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _claim(out: Path, config: ExtractSettings) -> bool:
    """Make `out` a dataset with these settings, or check an existing one has them.
    True when this call created the folder."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    marker = out / SETTINGS
    wanted = {"format": FORMAT_VERSION, "settings": asdict(config)}
    if marker.exists():
        have = json.loads(marker.read_text())
        if have != wanted:
            diff = {k: v for k, v in have.get("settings", {}).items() if wanted["settings"].get(k) != v}
            raise ConfigError(f"{out} was extracted with other settings ({diff}): use the same ones or another folder")
        return False
    if out.exists() and any(out.iterdir()):
        raise OutputError(f"{out}: a folder that is not a vidswap dataset and is not empty")
    created = not out.exists()
    _write_json(marker, wanted)
    return created


def _source_key(path: Path) -> str:
    return f"{path.stem[:40]}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"


def _fingerprint(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _is_finished(done: Path, path: Path) -> bool:
    if not done.exists():
        return False
    try:
        return json.loads(done.read_text())["fingerprint"] == _fingerprint(path)
    except (ValueError, KeyError):
        return False  # unreadable marker: do the source again


def _write_json(path: Path, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def _write_index(out: Path, summary: ExtractSummary) -> None:
    """records.jsonl and summary.json over every finished source in the dataset
    (earlier runs' included: extracting more clips into a dataset adds to it)."""
    finished = sorted((out / DONE).glob("*.json")) if (out / DONE).exists() else []
    parts = [json.loads(p.read_text()) for p in finished]
    parts.sort(key=lambda part: part["stats"]["source"])
    lines = [json.dumps(r) for part in parts for r in part["records"]]
    atomic_write_text(out / RECORDS, "".join(line + "\n" for line in lines))
    all_stats = [part["stats"] for part in parts]
    _write_json(
        out / SUMMARY,
        {
            "settings": asdict(summary.settings),
            "sources": len(all_stats),
            "clips": sum(s["kind"] == "video" for s in all_stats),
            "images": sum(s["kind"] == "image" for s in all_stats),
            "frames": sum(s["frames"] for s in all_stats),
            "faces": sum(s["faces"] for s in all_stats),
            "crops": len(lines),
            "duplicates": sum(s["duplicates"] for s in all_stats),
            "no_face": [
                s["source"] for s in all_stats if summary.settings.mode == "face" and s["frames"] and not s["with_face"]
            ],
            "failed_last_run": {s.source: s.error for s in summary.failed},
            "per_source": all_stats,
        },
    )
