"""Ctrl-C (SIGINT) and SIGTERM in the middle of real work: `vidswap apply`, `batch`, `extract`
and `eval` run as real subprocesses and get a real signal once their work is under way (seen
from the files they write or hold open, never from a delay); each says in one line what it
kept and what it removed, exits 128 + the signal, and leaves no partial file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import make_video, panned_frames
from vidswap.pipeline.manifest import MANIFEST_NAME, Manifest

pytestmark = [
    pytest.mark.slow,  # each starts the CLI in a fresh process
    pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches /proc for the files a process holds"),
]
VIDSWAP = Path(sys.executable).parent / "vidswap"
SIGNALS = [signal.SIGINT, signal.SIGTERM]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """30 s of small video with audio: long enough to be stopped in the middle of."""
    folder = tmp_path_factory.mktemp("long")
    return make_video(folder / "long.mp4", panned_frames(50, 96, 64) * 15, audio_seconds=30)


def interruptible() -> None:
    """Ctrl-C as in a terminal: a test run started in the background (`cmd &` in a script) passes
    SIGINT on ignored, and a process rightly keeps ignoring it then."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    return subprocess.Popen([str(VIDSWAP), "-q", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=interruptible)  # fmt: skip


def stop_when(process: subprocess.Popen, ready, signum: int) -> tuple[int, list[str]]:
    """Send `signum` once `ready()` holds (the process still working); (exit code, stderr lines)."""
    deadline = time.monotonic() + 300
    while not ready():
        assert process.poll() is None, f"finished before it could be stopped: {process.communicate()}"
        assert time.monotonic() < deadline, "the work never got under way"
        time.sleep(0.05)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    return process.returncode, err.strip().splitlines()


def holds_open(process: subprocess.Popen, path: Path) -> bool:
    fds = Path(f"/proc/{process.pid}/fd")
    try:
        return any(os.readlink(fd) == str(path.resolve()) for fd in fds.iterdir())
    except (FileNotFoundError, PermissionError):  # a descriptor closed while listed
        return False


def partial_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".partial" in p.name]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_apply_stopped_says_the_output_was_not_written(long_clip, tmp_path, signum):
    out = tmp_path / "out.mp4"
    process = start("apply", str(long_clip), "-m", "identity", "-o", str(out), "--preset", "ultrafast")
    code, lines = stop_when(process, lambda: bool(partial_files(tmp_path)), signum)
    name = signal.Signals(signum).name
    assert lines == [f"vidswap: stopped by {name}: {out} was not written (the partial file removed); "
                     "the input is unchanged"]  # fmt: skip
    assert code == 128 + signum
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_batch_stopped_keeps_finished_files_and_a_resumable_manifest(long_clip, tmp_path, signum):
    library, out = tmp_path / "library", tmp_path / "out"
    library.mkdir()
    make_video(library / "a.mp4", panned_frames(5, 96, 64))
    for name in ("b.mp4", "c.mp4"):
        (library / name).symlink_to(long_clip)
    process = start("batch", str(library), "-o", str(out), "-m", "identity", "--preset", "ultrafast")

    def one_done_and_the_next_under_way() -> bool:
        if not (out / MANIFEST_NAME).is_file() or not partial_files(out):
            return False
        with Manifest(out, lock=False, create=False) as manifest:
            return [e.state for e in manifest.entries()] == ["done", "running", "pending"]

    code, lines = stop_when(process, one_done_and_the_next_under_way, signum)
    assert lines == [f"vidswap: stopped by {signal.Signals(signum).name}: kept 1 of 3 file(s) done in {out} and "
                     "its manifest: rerun the same command to resume; removed the partial output of the 1 file(s) "
                     "being converted"]  # fmt: skip
    assert code == 128 + signum
    assert (out / "a.mp4").is_file() and not (out / "b.mp4").exists() and not partial_files(out)
    with Manifest(out, lock=False, create=False) as manifest:
        assert [e.state for e in manifest.entries()] == ["done", "pending", "pending"]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_extract_stopped_keeps_the_finished_sources(long_clip, tmp_path, signum):
    short = make_video(tmp_path / "a_short.mp4", panned_frames(3, 96, 64))
    dataset = tmp_path / "ds"
    process = start("extract", str(short), str(long_clip), "-o", str(dataset), "--mode", "frame", "--size", "32")
    crops = dataset / "crops"

    def first_done_and_the_clip_under_way() -> bool:
        return len(list((dataset / "sources").glob("*.json"))) == 1 and len(list(crops.glob("*"))) == 2

    code, lines = stop_when(process, first_done_and_the_clip_under_way, signum)
    assert lines == [f"vidswap: stopped by {signal.Signals(signum).name}: kept 1 finished source(s) in {dataset} "
                     "(a partial dataset: rerun the same command to complete it); removed the partial crops of "
                     "long.mp4"]  # fmt: skip
    assert code == 128 + signum
    assert len(list(crops.glob("*"))) == 1 and not partial_files(dataset)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_eval_stopped_says_nothing_was_written(long_clip, tmp_path, signum):
    report = tmp_path / "report.json"
    process = start("eval", str(long_clip), str(long_clip), "--report", str(report))
    code, lines = stop_when(process, lambda: holds_open(process, long_clip), signum)
    assert lines == [f"vidswap: stopped by {signal.Signals(signum).name}: nothing was written (the report and "
                     "the flicker plot come once both files are read)"]  # fmt: skip
    assert code == 128 + signum
    assert list(tmp_path.iterdir()) == []
