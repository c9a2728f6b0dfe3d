"""`vidswap batch --ray HOST:PORT` against a real head node started with `ray start --head`, token
authentication on the way Ray 2.60 turns it on (a token in ~/.ray/auth_token). The node is
stopped by its own process group, not `ray stop`, which would stop every Ray on the machine."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import pytest

from tests.helpers import make_library, make_video, panned_frames
from vidswap.pipeline.batch import BatchReport, record
from vidswap.pipeline.jobs import Outcome
from vidswap.pipeline.manifest import MANIFEST_NAME, Manifest
from vidswap.pipeline.runners import CONNECT_TIMEOUT_S, ray_token_source

pytest.importorskip("ray")
BIN = Path(sys.executable).parent
CLIPS = {"a.mp4": (6, 0.3), "sub/b.mp4": (5, 0)}  # name -> (frames, seconds of audio)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_AUTH"))}
    return {**env, "HOME": str(home), "RAY_DISABLE_USAGE_STATS": "1", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}


@contextlib.contextmanager
def running_head(home: Path, cpus: int = 2, join: tuple[str, Path] | None = None):
    """(address, the node's process) of a one-node cluster on 127.0.0.1, its token in `home`;
    with `join` (the head's address and HOME), a second node joining that head instead."""
    (home / ".ray").mkdir()
    if join:
        (home / ".ray" / "auth_token").write_text((join[1] / ".ray" / "auth_token").read_text())
    else:
        (home / ".ray" / "auth_token").write_text(secrets.token_hex(16))
    temp = tempfile.mkdtemp(prefix="vsray", dir="/tmp")  # Ray's socket paths must stay short
    address = join[0] if join else f"127.0.0.1:{free_port()}"
    where = [f"--address={address}"] if join else ["--head", f"--port={address.split(':')[1]}",
                                                   "--include-dashboard=false", f"--temp-dir={temp}"]  # fmt: skip
    args = [str(BIN / "ray"), "start", *where, "--block", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
            "--object-store-memory=100000000"]  # fmt: skip
    env = clean_env(home) | ({"RAY_AUTH_MODE": "token"} if join else {})
    log = home / "head.log"
    with log.open("w") as sink:
        node = subprocess.Popen(args, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text() and node.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert node.poll() is None and "Ray runtime started" in log.read_text(), log.read_text()
        yield address, node
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGTERM)  # the node drains for up to 30 s: a short grace, then kill
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)
        node.wait()


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """(address, the head's HOME holding its token): a one-node cluster on 127.0.0.1."""
    home = tmp_path_factory.mktemp("head_home")
    with running_head(home) as (address, _):
        yield address, home


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    return make_library(tmp_path_factory.mktemp("ray_library"), CLIPS)


def batch(library: Path, out: Path, address: str, env: dict[str, str], *quiet: str) -> subprocess.CompletedProcess:
    args = [str(BIN / "vidswap"), *quiet, "batch", str(library), "-o", str(out), "-m", "identity",
            "--preset", "ultrafast", f"--ray={address}"]  # fmt: skip
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_batch_joins_a_token_protected_head_node_by_address(head, library, tmp_path):
    address, home = head
    out = tmp_path / "out"
    run = batch(library, out, address, clean_env(home), "-q")  # the head's machine: its token in ~/.ray
    assert run.returncode == 0, run.stderr
    for rel, (frames, audio) in CLIPS.items():
        with av.open(str(out / rel)) as container:
            assert len(container.streams.audio) == (1 if audio else 0)
            assert sum(1 for _ in container.decode(video=0)) == frames


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_missing_or_wrong_token_is_one_line_saying_what_to_set(head, library, tmp_path, token):
    address, _ = head
    elsewhere = tmp_path / "home"  # a machine without the head's token
    elsewhere.mkdir()
    env = clean_env(elsewhere) | ({"RAY_AUTH_TOKEN": token} if token else {})
    run = batch(library, tmp_path / "out", address, env)  # not quiet: no progress bar before the error either
    found = "the token from RAY_AUTH_TOKEN was refused" if token else "no token was found here"
    assert run.stderr.strip().splitlines() == [
        f"vidswap: error: the Ray cluster at {address} uses token authentication and {found}: set RAY_AUTH_TOKEN "
        "to what `ray get-auth-token` prints on its head node (or copy that node's ~/.ray/auth_token here)"
    ]
    assert run.returncode == 2
    assert not list((tmp_path / "out").rglob("*.mp4"))


def test_token_sources_follow_rays_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    assert ray_token_source() is None
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("t")
    assert ray_token_source() == str(tmp_path / ".ray" / "auth_token")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", "/elsewhere/token")
    assert ray_token_source() == "/elsewhere/token"
    monkeypatch.setenv("RAY_AUTH_TOKEN", "secret")
    assert ray_token_source() == "RAY_AUTH_TOKEN"


@pytest.mark.slow
def test_an_unreachable_head_is_one_line_at_once(library, tmp_path):
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    began = time.monotonic()
    run = batch(library, tmp_path / "out", address, clean_env(tmp_path))
    assert run.stderr.strip().splitlines() == [
        f"vidswap: error: cannot reach a Ray head at {address} (Connection refused): "
        "is `ray start --head` running there?"
    ]
    assert run.returncode == 2 and time.monotonic() - began < 60
    with Manifest(tmp_path / "out", lock=False, create=False) as manifest:  # planned, nothing started
        assert {e.state for e in manifest.entries()} == {"pending"}


@pytest.mark.slow
def test_a_head_that_never_answers_is_one_line_within_a_minute(library, tmp_path):
    """A head still starting (or stuck) accepts connections and says nothing: Ray itself would wait for minutes."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        began = time.monotonic()
        run = batch(library, tmp_path / "out", address, clean_env(tmp_path))
        took = time.monotonic() - began
    assert run.stderr.strip().splitlines() == [
        f"vidswap: error: the Ray head at {address} accepts connections but did not let this driver join in "
        f"{CONNECT_TIMEOUT_S} s: is it still starting, or stuck? (`ray status` there)"
    ]
    assert run.returncode == 2 and took < 60 + 30  # 30 s: starting the CLI on a loaded machine


@pytest.mark.slow
def test_a_head_killed_mid_run_stops_the_batch_in_one_line_with_the_manifest_resumable(tmp_path):
    library, out, home = tmp_path / "library", tmp_path / "out", tmp_path / "home"
    home.mkdir()
    library.mkdir()
    make_video(library / "a.mp4", panned_frames(5, 48, 32))
    for name in ("b.mp4", "c.mp4"):  # long enough to be under way when the head dies
        make_video(library / name, panned_frames(50, 48, 32) * 20)
    with running_head(home) as (address, node):
        args = [str(BIN / "vidswap"), "-q", "batch", str(library), "-o", str(out), "-m", "identity", "--workers", "1",
                "--preset", "ultrafast", f"--ray={address}"]  # fmt: skip
        driver = subprocess.Popen(args, env=clean_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def states() -> list[str]:
            if not (out / MANIFEST_NAME).is_file():
                return []
            with Manifest(out, lock=False, create=False) as manifest:
                return [e.state for e in manifest.entries()]

        deadline = time.monotonic() + 240
        while states() != ["done", "running", "pending"]:
            assert driver.poll() is None, driver.communicate()
            assert time.monotonic() < deadline, states()
            time.sleep(0.1)
        os.killpg(node.pid, signal.SIGKILL)
        killed = time.monotonic()
        _, err = driver.communicate(timeout=120)
        took = time.monotonic() - killed
    assert len(err.strip().splitlines()) == 1, err
    line = err.strip()
    assert line.startswith("vidswap: error: lost the Ray cluster: its head at ") and "a rerun" in line
    assert driver.returncode == 1 and took < 60
    assert states() == ["done", "pending", "pending"]  # a rerun resumes with b and c
    assert (out / "a.mp4").is_file() and not [p for p in out.rglob("*") if ".partial" in p.name]


def test_a_file_whose_node_was_lost_goes_back_to_the_queue_without_using_an_attempt(tmp_path):
    """RayRunner reports a task whose node died (NodeDiedError) as lost: not the file's fault."""
    report = BatchReport(total=2, skipped=0)
    with Manifest(tmp_path) as manifest:
        for name in ("lost.mp4", "crashed.mp4"):
            manifest.add(name, name, 1, 1)
            manifest.set_running(name)
        lost = Outcome("lost.mp4", "ray", error="its Ray node was lost: node died", lost=True)
        assert record(manifest, lost, retries=0, report=report)  # back to the queue even with no retries
        crashed = Outcome("crashed.mp4", "ray", error="Ray task failed: worker crashed")
        assert not record(manifest, crashed, retries=0, report=report)
        entries = {e.source: e for e in manifest.entries()}
    assert (entries["lost.mp4"].state, entries["lost.mp4"].attempts) == ("pending", 0)
    assert (entries["crashed.mp4"].state, entries["crashed.mp4"].attempts) == ("failed", 1)
    assert report.failed == {"crashed.mp4": "Ray task failed: worker crashed"}


def manifest_entries(out: Path) -> dict:
    if not (out / MANIFEST_NAME).is_file():
        return {}
    with Manifest(out, lock=False, create=False) as manifest:
        return {e.source: e for e in manifest.entries()}


@pytest.mark.slow
def test_a_node_lost_mid_file_gives_the_file_back_to_the_queue(tmp_path):
    """Two one-CPU nodes convert a file each; the second node is killed mid-file: its file is
    converted again on the head, without using an attempt (--retries 0)."""
    library, out = tmp_path / "library", tmp_path / "out"
    library.mkdir()
    for name in ("a.mp4", "b.mp4"):
        make_video(library / name, panned_frames(50, 48, 32) * 12)
    homes = [tmp_path / "head", tmp_path / "node"]
    for home in homes:
        home.mkdir()
    with running_head(homes[0], cpus=1) as (address, _), running_head(homes[1], 1, (address, homes[0])) as (_, node):
        args = [str(BIN / "vidswap"), "-q", "batch", str(library), "-o", str(out), "-m", "identity", "--workers", "2",
                "--retries", "0", "--preset", "ultrafast", f"--ray={address}"]  # fmt: skip
        driver = subprocess.Popen(args, env=clean_env(homes[0]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)  # fmt: skip
        deadline = time.monotonic() + 240
        while [e.state for e in manifest_entries(out).values()] != ["running", "running"] or not [
            p for p in out.rglob("*") if ".partial" in p.name
        ]:
            assert driver.poll() is None, driver.communicate()
            assert time.monotonic() < deadline, manifest_entries(out)
            time.sleep(0.1)
        os.killpg(node.pid, signal.SIGKILL)
        _, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, err
    assert "its Ray node was lost" in err
    entries = manifest_entries(out)
    assert {(e.state, e.attempts) for e in entries.values()} == {("done", 0)}
    for name in ("a.mp4", "b.mp4"):
        assert (out / name).is_file()
