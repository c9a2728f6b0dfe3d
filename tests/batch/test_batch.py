"""vidswap batch on a library the tests make: good clips in nested folders, a damaged
file and one without a video stream; reruns, a real kill -9 part-way, local workers and Ray."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

import vidswap
from tests.helpers import make_library, make_video, panned_frames
from vidswap.api import VideoSettings
from vidswap.cli.main import main
from vidswap.errors import ConfigError, InputError, MissingDependency, NoFaceError, OutputError, VidswapError
from vidswap.extract import find_sources
from vidswap.pipeline.apply import EncodeOptions
from vidswap.pipeline.batch import find_videos, output_name
from vidswap.pipeline.jobs import Job, failed
from vidswap.pipeline.manifest import MANIFEST_NAME, Manifest
from vidswap.video import VIDEO_EXTENSIONS

# path in the library -> (frames, seconds of audio)
GOOD = {
    "root.mp4": (10, 0.4),
    "cams/a/day1.mp4": (8, 0.3),
    "cams/a/day2.mov": (6, 0),
    "cams/b/wide.mkv": (10, 0.4),
    "cams/b/deep/er/night.mp4": (7, 0),
    "phone/p1.mp4": (9, 0.3),
    "phone/p2.mp4": (6, 0),
    "phone/p3.mkv": (8, 0),
    "misc/m1.mp4": (6, 0),
    "misc/m2.mov": (8, 0.3),
}
BAD = {"misc/broken.mp4": "not a readable media file", "voice/memo.mp4": "no video stream"}
FAST = VideoSettings(encode=EncodeOptions(preset="ultrafast"))
VIDSWAP = str(Path(sys.executable).with_name("vidswap"))


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    root = make_library(tmp_path_factory.mktemp("library"), GOOD)
    # a download cut short: an MP4 whose index (written last) never arrived
    data = (root / "root.mp4").read_bytes()
    (root / "misc/broken.mp4").write_bytes(data[: len(data) // 2])
    (root / "voice").mkdir()
    with av.open(str(root / "voice/memo.mp4"), "w") as container:  # a "video" file holding only sound
        stream = container.add_stream("aac", rate=44100)
        stream.layout = "mono"
        for start in range(0, 44100, 1024):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            frame.planes[0].update(bytes(4096))
            frame.sample_rate, frame.pts = 44100, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    (root / "notes.txt").write_text("not a video")
    (root / "phone/.hidden.mp4").write_bytes(data)
    return root


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def assert_outputs_complete(out: Path) -> None:
    """Exactly one playable output per good source, with every frame and the audio; no
    temporary or stray files."""
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == set(GOOD) | {MANIFEST_NAME, ".vidswap-batch.lock"}
    for rel, (frames, audio) in GOOD.items():
        assert decoded_frames(out / rel) == frames, rel
        with av.open(str(out / rel)) as container:
            assert len(container.streams.audio) == (1 if audio else 0), rel


def done_events(out: Path) -> dict[str, int]:
    with Manifest(out, lock=False, create=False) as manifest:
        sources = [source for _, source, _, _ in manifest.events("done")]
    return {s: sources.count(s) for s in set(sources)}


def test_library_converts_reports_bad_files_and_rerun_does_no_work(library, tmp_path, capsys):
    out = tmp_path / "out"
    report = vidswap.batch(library, out, model="identity", video=FAST)
    assert sorted(report.converted) == sorted(GOOD) and report.total == len(GOOD) + len(BAD)
    assert set(report.failed) == set(BAD)
    for rel, reason in BAD.items():
        assert reason in report.failed[rel] and "\n" not in report.failed[rel]
    assert_outputs_complete(out)

    again = vidswap.batch(library, out, model="identity", video=FAST)
    assert again.converted == [] and again.skipped == len(GOOD) and set(again.failed) == set(BAD)
    with Manifest(out, lock=False) as manifest:
        assert [run for run, *_ in manifest.events("running")] == [1] * (len(GOOD) + len(BAD))  # none in run 2

    # `--status` lists every file; the exit code says something failed
    with pytest.raises(SystemExit) as exit_info:
        main(["batch", "--status", str(out)])
    printed = capsys.readouterr().out
    assert exit_info.value.code == 1
    assert printed.count(" done ") == len(GOOD) and "no video stream" in printed

    # an output changed on disk and a source edited since are converted again, nothing else
    (out / "phone/p2.mp4").write_bytes(b"x" * (out / "phone/p2.mp4").stat().st_size)
    make_video(library / "phone/p3.mkv", panned_frames(8, 48, 32)[::-1])
    third = vidswap.batch(library, out, model="identity", video=FAST)
    assert sorted(third.converted) == ["phone/p2.mp4", "phone/p3.mkv"]
    assert_outputs_complete(out)

    # other output settings would mix two kinds of output in one folder
    with pytest.raises(ConfigError, match=r"other settings \(video\.encode\.crf: 18 -> 30; video\.encode\.preset"):
        vidswap.batch(library, out, model="identity", video=VideoSettings(encode=EncodeOptions(crf=30)))


def test_unknown_model_is_one_line_before_any_work(library, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["batch", str(library), "-o", str(tmp_path / "out"), "--model", "no_such"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 4 and "no_such" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_globs_excludes_hidden_files_and_the_output_folder(library, tmp_path):
    found = [p.relative_to(library).as_posix() for p in find_videos(library)]
    assert sorted(found) == sorted(set(GOOD) | set(BAD))  # no .txt, no hidden file
    mkv_only = find_videos(library, globs=["*.mkv"], excludes=["cams/*"])
    assert [p.relative_to(library).as_posix() for p in mkv_only] == ["phone/p3.mkv"]
    inside = library / "converted"
    (inside / "cams").mkdir(parents=True)
    make_video(inside / "cams/out.mp4", panned_frames(3, 48, 32))
    try:
        assert all(inside not in p.parents for p in find_videos(library, skip=inside))
    finally:
        (inside / "cams/out.mp4").unlink()
        (inside / "cams").rmdir()
        inside.rmdir()
    # clip.avi and clip.mp4 would both become clip.mp4
    avi = make_video(tmp_path / "clip.avi", panned_frames(3, 48, 32), codec="mpeg4")
    assert output_name(avi, "clip.avi", taken=set()) == "clip.mp4"
    assert output_name(avi, "clip.avi", taken={"clip.mp4"}) == "clip.avi.mp4"


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def proc_file(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:  # gone
        return b""


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if proc_file(p, "status") and b"(zombie)" not in proc_file(p, "status")}


def converters(pids: set[int]) -> set[int]:
    """The processes that could still write outputs: all but Ray's dashboard and runtime-env agents."""
    agents = (b"ray::DashboardAgent", b"ray::RuntimeEnvAgent")
    return {p for p in pids if not proc_file(p, "cmdline").startswith(agents)}


def lock_when_done(out: Path, n: int, batch: subprocess.Popen, timeout: float = 180) -> tuple[sqlite3.Connection, int]:
    """Wait until the manifest records `n` finished files and return a connection holding its
    write lock, with the count it saw: while the lock is held the driver can neither record an
    outcome nor start a file (it records `running` first), so the count stays as seen."""
    deadline = time.monotonic() + timeout
    while batch.poll() is None and time.monotonic() < deadline:
        if (out / MANIFEST_NAME).is_file():
            db = sqlite3.connect(out / MANIFEST_NAME, timeout=10, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")  # waits out a write in progress
                done = db.execute("SELECT COUNT(*) FROM files WHERE state = 'done'").fetchone()[0]
                if done >= n:
                    return db, done
                db.execute("ROLLBACK")
            except sqlite3.OperationalError:  # the tables are not made yet
                pass
            db.close()
        time.sleep(0.02)
    raise AssertionError(f"the batch never recorded {n} finished files (exit code {batch.poll()})")


class UnreadableTape(VidswapError):
    """A project's own error, marked as the input's fault by its attribute, not its name."""

    input_fault = True


@pytest.mark.parametrize(("error", "permanent", "stop_code"), [
    (InputError("clip.mp4: no video stream"), True, 0),
    (NoFaceError("clip.mp4: no face found"), True, 0),
    (UnreadableTape("clip.mp4: tape is unreadable"), True, 0),
    (ConfigError("bad setting"), False, 2),
    (MissingDependency("ray", "--ray"), False, 5),
    (OutputError("disk full"), False, 0),
    (MemoryError("out of memory"), False, 0),
])  # fmt: skip
def test_failures_are_classified_by_the_error_class_attributes(error, permanent, stop_code):
    outcome = failed(Job("clip.mp4", "clip.mp4", "out.mp4"), "w0", error)
    assert (outcome.permanent, outcome.stop_code) == (permanent, stop_code)
    assert not outcome.ok and "clip.mp4: " not in outcome.error  # the report names the file already


def test_batch_and_extract_take_the_same_video_files(tmp_path):
    for suffix in VIDEO_EXTENSIONS:
        (tmp_path / f"clip{suffix.upper()}").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    expected = sorted(tmp_path / f"clip{s.upper()}" for s in VIDEO_EXTENSIONS)
    assert find_videos(tmp_path) == expected == find_sources([tmp_path])
    assert {".m2ts", ".mts", ".3gp", ".ogv"} <= VIDEO_EXTENSIONS


@pytest.mark.slow  # worker processes (or a local Ray cluster) start, three times
@pytest.mark.parametrize("mode", [["--workers", "2"], ["--ray", "--workers", "2"]], ids=["workers2", "ray"])
def test_kill_9_part_way_then_rerun_finishes_each_file_once(library, tmp_path, mode):
    out = tmp_path / "out"
    args = [VIDSWAP, "-q", "batch", str(library), "-o", str(out), "--model", "identity", *mode]
    env = {**os.environ, "RAY_DISABLE_USAGE_STATS": "1"}
    batch = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    held, done_at_kill = lock_when_done(out, 2, batch)
    started = descendants(batch.pid)  # its workers (or the local Ray cluster it started)
    batch.send_signal(signal.SIGKILL)
    batch.wait()
    held.execute("ROLLBACK")
    held.close()
    assert 2 <= done_at_kill < len(GOOD), "the kill lands part-way"
    deadline = time.monotonic() + 20  # nothing it started goes on writing into OUT
    while converters(alive(started)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not converters(alive(started))
    for pid in alive(started):  # Ray's agents outlive a killed head for a while; they write nothing of ours
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 1, rerun.stderr  # the bad files are still failed
    assert "no video stream" in rerun.stderr
    assert_outputs_complete(out)
    assert done_events(out) == {rel: 1 for rel in GOOD}
    assert not list(out.rglob("*.partial*"))

    third = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 1
    with Manifest(out, lock=False) as manifest:
        assert not [e for e in manifest.events("running") if e[0] == 3]  # the third run had nothing to do
