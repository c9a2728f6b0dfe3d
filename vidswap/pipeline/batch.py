"""Batch conversion of a footage library: find the videos and images, mirror the tree
under the output folder, convert each file once, resumably.

The driver (run_batch) alone owns the manifest; workers (local processes or Ray tasks,
see vidswap.pipeline.runners) only convert files and report back (the protocol is in
vidswap.pipeline.jobs). Resume rules:
- done and verified (output there, same size and sha256): skipped;
- left `running` by a killed run: its temporary file is removed and it runs again;
- failed: retried while it has attempts left (1 + retries in all), unless the failure
  was the input's own (damaged, no video stream, no face): a retry cannot help that;
- a source whose size or mtime changed is a new file.
Outputs appear only by rename after a complete write (VideoWriter; images likewise), so
a kill at any moment leaves no half-written output, only a temporary file the next run
removes. `survey` makes every decision without changing anything (`--dry-run` prints it)."""

from __future__ import annotations

import fnmatch
import json
import os
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from vidswap.errors import ConfigError, InputError, VidswapError
from vidswap.models import resolve_model
from vidswap.pipeline.images import IMAGE_EXTENSIONS, is_image
from vidswap.pipeline.jobs import Job, Outcome, file_digest
from vidswap.pipeline.manifest import MANIFEST_NAME, Entry, Manifest
from vidswap.pipeline.runners import LocalRunner, RayRunner
from vidswap.settings import TranslatorSettings, VideoSettings
from vidswap.store import chosen_store
from vidswap.video import VIDEO_EXTENSIONS, MediaInfo, probe
from vidswap.video.writer import KEPT_EXTENSIONS, default_output_path

# settings that change how and where the model runs, not what the outputs hold; every other
# field (new ones included) is part of the output folder's identity
RUN_ONLY_SETTINGS = {"device", "batch", "models_dir", "backend"}


@dataclass
class BatchReport:
    total: int  # videos found
    skipped: int  # already done and verified
    converted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # key -> last error
    warnings: dict[str, list[str]] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


class Observer:
    """Progress callbacks of a batch run (the CLI draws bars from them); all optional."""

    def planned(self, todo: int, skipped: int, failed: int) -> None: ...
    def started(self, worker: str, key: str, frames: int | None) -> None: ...
    def progressed(self, worker: str, key: str, frames_done: int) -> None: ...
    def finished(self, outcome: Outcome, will_retry: bool) -> None: ...
    def stopped(self, keys: list[str]) -> None: ...  # files in progress when the run stopped early


# -- the library -------------------------------------------------------------------------


def find_videos(library: Path, globs: Iterable[str] = (), excludes: Iterable[str] = (),
                skip: Path | None = None) -> list[Path]:  # fmt: skip
    """Files under `library` (recursive, sorted) that match a glob (default: a video or image
    extension) and no exclude. A pattern matches the path relative to the library or the
    file name ('*' crosses folders). Hidden files and folders and the `skip` folder (the
    output, when inside) are left out."""
    globs, excludes = list(globs), list(excludes)

    def matches(rel: str, patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], p) for p in patterns)

    found = []
    for folder, dirs, files in os.walk(library):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(folder, d) != skip)
        for name in files:
            path = Path(folder, name)
            rel = path.relative_to(library).as_posix()
            wanted = matches(rel, globs) if globs else path.suffix.lower() in VIDEO_EXTENSIONS | IMAGE_EXTENSIONS
            if wanted and not name.startswith(".") and not matches(rel, excludes):
                found.append(path)
    return sorted(found)


def output_name(source: Path, key: str, taken: set[str], facts: dict[str, MediaInfo] | None = None) -> str:
    """The output's path relative to the output folder: the source's, with the container
    the writer would pick (kept, or MP4/Matroska; an image keeps its format); the full
    source name is kept when two sources would otherwise land on one output (clip.avi and
    clip.mp4). A source probed for it has its facts added to `facts` (its worker then does
    not probe it again)."""
    if source.suffix.lower() in KEPT_EXTENSIONS or is_image(source):
        suffix = source.suffix
    else:
        try:
            info = probe(source, rates=False)
            suffix = default_output_path(source, info=info).suffix
            if facts is not None:
                facts[key] = info
        except VidswapError:  # unreadable: the conversion itself will report why
            suffix = ".mkv"
    rel = Path(key)
    name = (rel.parent / f"{rel.stem}{suffix}").as_posix()
    return name if name not in taken else (rel.parent / f"{rel.name}{suffix}").as_posix()


def output_settings(translator: TranslatorSettings, video: VideoSettings) -> dict:
    """The settings that shape the outputs, as JSON values (the manifest compares them)."""
    values = {k: v for k, v in asdict(translator).items() if k not in RUN_ONLY_SETTINGS}
    # keep_faceless changes no output that has a face in it: it only rescues clips that
    # failed for want of one, which a run with it retries (see judge)
    values["face"].pop("keep_faceless")
    values["video"] = asdict(video)
    return json.loads(json.dumps(values, default=str))


def remove_partial_files(output: Path) -> None:
    """Remove what a killed writer left of `output`: vidswap.fsutil.atomic_path names its
    temporary files '.STEM.RANDOM.partialSUFFIX' beside the target."""
    for partial in output.parent.glob(f".{glob_escape(output.stem)}.*.partial{glob_escape(output.suffix)}"):
        partial.unlink(missing_ok=True)


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


# -- the driver --------------------------------------------------------------------------


def run_batch(
    library: str | os.PathLike,
    out_dir: str | os.PathLike,
    translator: TranslatorSettings,
    video: VideoSettings,
    *,
    globs: Iterable[str] = (),
    excludes: Iterable[str] = (),
    workers: int | None = None,
    ray: bool | str = False,
    retries: int = 1,
    observer: Observer | None = None,
) -> BatchReport:
    """Convert every video and image under `library` into the mirrored tree under `out_dir`
    with `translator` (TranslatorSettings) and `video` (VideoSettings). `workers` local
    processes (default 1), or Ray tasks when `ray` is True (start or join the local
    cluster) or an address; then `workers` caps the tasks in flight."""
    library, out_dir, sources = check_batch(library, out_dir, translator, globs, excludes)
    # the store this process sees, named for the workers: a Ray node elsewhere lacks our environment
    translator = replace(translator, models_dir=chosen_store(translator.models_dir))
    observer = observer or Observer()
    began = time.perf_counter()
    with Manifest(out_dir) as manifest:
        manifest.check_settings(output_settings(translator, video))
        facts: dict[str, MediaInfo] = {}
        decisions = plan(manifest, library, out_dir, sources, retries, translator.face.keep_faceless, facts)
        todo = [d.source for d in decisions if d.action != "skip"]
        report = BatchReport(total=len(decisions), skipped=sum(d.state == "done" for d in decisions))
        report.failed = {d.source: manifest.get(d.source).error or "" for d in decisions
                         if d.state == "failed" and d.action == "skip"}  # fmt: skip
        if not todo:
            observer.planned(0, report.skipped, len(report.failed))
            return report
        outputs = {d.source: d.output for d in decisions}
        jobs = {key: Job(key, str(library / key), str(out_dir / outputs[key]), facts.get(key)) for key in todo}
        # before the bars start: a Ray cluster that refuses us is one line on a clean terminal
        runner = (RayRunner(None if ray is True else ray, translator, video, workers) if ray
                  else LocalRunner(translator, video, workers or 1))  # fmt: skip
        observer.planned(len(todo), report.skipped, len(report.failed))
        try:
            drive(manifest, runner, jobs, retries, observer, report)
        finally:
            runner.close()
            unfinished = [entry for entry in manifest.entries() if entry.state == "running"]
            for entry in unfinished:  # stopped by an error, Ctrl-C or SIGTERM: nothing stays `running`
                remove_partial_files(out_dir / entry.output)  # its worker is stopped
                manifest.set_pending(entry.source, "batch stopped")
            if unfinished:
                observer.stopped([entry.source for entry in unfinished])
    report.seconds = time.perf_counter() - began
    return report


def dry_run(
    library: str | os.PathLike,
    out_dir: str | os.PathLike,
    translator: TranslatorSettings,
    video: VideoSettings,
    *,
    globs: Iterable[str] = (),
    excludes: Iterable[str] = (),
    retries: int = 1,
) -> list[Decision]:
    """What run_batch would do with each source, and why, touching nothing: the manifest
    is only read (and need not exist), no output or temporary file is removed or made.
    Raises what run_batch would (other settings in `out_dir`, an unknown model, ...)."""
    library, out_dir, sources = check_batch(library, out_dir, translator, globs, excludes)
    if not (out_dir / MANIFEST_NAME).is_file():
        return survey(None, library, out_dir, sources, retries, translator.face.keep_faceless)
    with Manifest(out_dir, lock=False, create=False) as manifest:
        manifest.check_settings(output_settings(translator, video), record=False)
        return survey(manifest, library, out_dir, sources, retries, translator.face.keep_faceless)


def check_batch(library: str | os.PathLike, out_dir: str | os.PathLike, translator: TranslatorSettings,
                globs: Iterable[str], excludes: Iterable[str]) -> tuple[Path, Path, list[Path]]:  # fmt: skip
    """Everything checked before a batch touches its output folder; returns the folders
    (resolved) and the sources found."""
    library, out_dir = Path(library).resolve(), Path(out_dir).resolve()
    if not library.is_dir():
        raise InputError(f"{library}: no such folder")
    if out_dir == library:
        raise ConfigError("the output folder must not be the library itself")
    resolve_model(translator.model, translator.models_dir)  # an unknown model: one line, before any work
    sources = find_videos(library, globs, excludes, skip=out_dir)
    if not sources:
        which = "matching --glob/--exclude" if globs or excludes else "(videos, or images: JPEG, PNG, WebP)"
        raise InputError(f"{library}: nothing to convert: no files {which}")
    return library, out_dir, sources


@dataclass
class Decision:
    """What a run does with one source, and why (`vidswap batch --dry-run` lists them)."""

    source: str  # path in the library (the manifest's key)
    output: str  # path in the output folder
    action: str  # convert | retry | skip
    why: str
    state: str | None  # the manifest's state before the run; None: not in it
    change: str | None = field(default=None, repr=False)  # what plan() records: add | interrupted | redo
    stat: tuple[int, int] = field(default=(0, 0), repr=False)  # the source's size and mtime (ns)


def survey(manifest: Manifest | None, library: Path, out_dir: Path, sources: list[Path], retries: int,
           keep_faceless: bool, facts: dict[str, MediaInfo] | None = None) -> list[Decision]:  # fmt: skip
    """Decide what to do with each source from the manifest (None: there is none yet) and
    the outputs on disk, changing neither (the facts of sources probed for an output name
    go to `facts`)."""
    known = {e.source: e for e in manifest.entries()} if manifest else {}
    taken = {e.output for e in known.values()}
    decisions = []
    # a source in a kept container claims its own name first: clip.mp4 -> clip.mp4 even
    # when clip.avi (also becoming clip.mp4) sorts before it
    for path in sorted(sources, key=lambda p: p.suffix.lower() not in KEPT_EXTENSIONS):
        key = path.relative_to(library).as_posix()
        stat = path.stat()
        entry = known.get(key)
        if entry and (entry.source_size, entry.source_mtime) == (stat.st_size, stat.st_mtime_ns):
            decisions.append(judge(entry, out_dir / entry.output, retries, keep_faceless))
            continue
        output = entry.output if entry else output_name(path, key, taken, facts)
        taken.add(output)
        why = "the source changed since it was converted" if entry else "new"
        decisions.append(Decision(key, output, "convert", why, entry and entry.state, "add",
                                  (stat.st_size, stat.st_mtime_ns)))  # fmt: skip
    return sorted(decisions, key=lambda d: d.source)


def judge(entry: Entry, output: Path, retries: int, keep_faceless: bool) -> Decision:
    """The decision for a source the manifest knows, unchanged since."""

    def decide(action: str, why: str, change: str | None = None) -> Decision:
        return Decision(entry.source, entry.output, action, why, entry.state, change)

    if entry.state == "running":
        return decide("convert", "a run that stopped left it unfinished", "interrupted")
    if entry.state == "done":
        if verified(entry, output):
            return decide("skip", "done (output verified by size and checksum)")
        return decide("convert", "output missing or changed", "redo")
    if entry.state == "pending":
        return decide("convert", "not converted yet")
    tries = f"failed {entry.attempts} time(s): {entry.error}"
    if can_retry(entry, retries):
        return decide("retry", f"{tries}; {1 + retries - entry.attempts} attempt(s) left")
    if keep_faceless and entry.permanent:
        return decide("retry", f"{tries}; --keep-faceless gives a faceless input another try")
    return decide("skip", f"{tries}; " + ("a retry cannot help the input" if entry.permanent
                                           else "no attempts left (--retries)"))  # fmt: skip


def plan(manifest: Manifest, library: Path, out_dir: Path, sources: list[Path], retries: int,
         keep_faceless: bool, facts: dict[str, MediaInfo]) -> list[Decision]:  # fmt: skip
    """Bring the manifest up to date with the library and the outputs on disk; returns
    what to do with each of `sources`."""
    decisions = survey(manifest, library, out_dir, sources, retries, keep_faceless, facts)
    for d in decisions:
        if d.change == "add":
            manifest.add(d.source, d.output, *d.stat)
        elif d.change == "interrupted":  # a killed run was converting it
            remove_partial_files(out_dir / d.output)
            manifest.set_pending(d.source, "interrupted")
        elif d.change == "redo":
            manifest.set_pending(d.source, "output missing or changed")
    return decisions


def verified(entry: Entry, output: Path) -> bool:
    return output.is_file() and output.stat().st_size == entry.size and file_digest(output)[1] == entry.sha256


def can_retry(entry: Entry, retries: int) -> bool:
    return entry.state == "failed" and not entry.permanent and entry.attempts < 1 + retries


def drive(manifest: Manifest, runner, jobs: dict[str, Job], retries: int, observer: Observer,
          report: BatchReport) -> None:  # fmt: skip
    """Keep the runner's slots busy, record every outcome, requeue what may still succeed."""
    queue = deque(jobs)
    in_flight: set[str] = set()
    while queue or in_flight:
        while queue and len(in_flight) < runner.slots:
            key = queue.popleft()
            manifest.set_running(key)  # recorded before the work starts: a kill leaves it `running`
            runner.submit(jobs[key])
            in_flight.add(key)
        for event in runner.poll(timeout=0.2):
            if event[0] == "start":
                observer.started(*event[1:])
            elif event[0] == "frames":
                observer.progressed(*event[1:])
            else:
                outcome: Outcome = event[2]
                in_flight.discard(outcome.key)
                retry = record(manifest, outcome, retries, report)
                if retry:
                    queue.append(outcome.key)
                observer.finished(outcome, retry)


def record(manifest: Manifest, outcome: Outcome, retries: int, report: BatchReport) -> bool:
    """Write an outcome to the manifest and the report; returns whether to try again."""
    if outcome.stop_code:
        manifest.set_pending(outcome.key, outcome.error or "stopped")
        error = VidswapError(outcome.error)
        error.exit_code = outcome.stop_code
        raise error
    if outcome.lost:
        manifest.set_pending(outcome.key, outcome.error or "lost")
        return True
    if outcome.ok:
        manifest.set_done(outcome.key, size=outcome.size, sha256=outcome.sha256, frames=outcome.frames,
                          seconds=outcome.seconds, worker=outcome.worker)  # fmt: skip
        report.converted.append(outcome.key)
        report.frames += outcome.frames
        if outcome.warnings:
            report.warnings[outcome.key] = outcome.warnings
        return False
    manifest.set_failed(outcome.key, outcome.error or "", permanent=outcome.permanent, worker=outcome.worker)
    if can_retry(manifest.get(outcome.key), retries):
        return True
    report.failed[outcome.key] = outcome.error or ""
    return False
