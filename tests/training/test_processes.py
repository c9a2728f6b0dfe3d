"""Training in real subprocesses: 2-process DDP through torchrun (gloo on CPU), Ctrl-C and SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import make_video, panned_frames
from tests.training.helpers import all_finite, read_losses
from trainer.checkpoint import CHECKPOINT, checkpoint_meta, read_checkpoint
from vidswap.cli.main import cli
from vidswap.models import read_card
from vidswap.video import open_source

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "160"}
NAN_ON_RANK = Path(__file__).with_name("nan_on_rank.py")
GENERATOR_CALLS = Path(__file__).with_name("generator_calls.py")
pytestmark = pytest.mark.slow  # every test starts vidswap (and torchrun) processes that train


def train_args(domains, store, method, name, *extra):
    a, b = domains
    return [
        "train",
        "--source",
        str(a),
        "--target",
        str(b),
        "--method",
        method,
        "--name",
        name,
        "--config",
        "tiny",
        "--models-dir",
        str(store),
        *extra,
    ]


def train_on_two_processes(args: list[str]) -> subprocess.CompletedProcess:
    """`vidswap train ARGS` under torchrun with two CPU processes (gloo)."""
    cmd = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--no-python", str(BIN / "vidswap"), *args]
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("method", ["cut", "cyclegan", "acgan"])
def test_two_process_gloo_ddp_trains(method, tmp_path, tiny_domains):
    proc = train_on_two_processes(train_args(tiny_domains, tmp_path, method, "ddp"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_losses(tmp_path / ".runs" / "ddp")
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all(all_finite(r) for r in rows)
    _, tensors = read_checkpoint(tmp_path / ".runs" / "ddp" / CHECKPOINT)
    assert {"rng/torch/0", "rng/torch/1"} <= set(tensors)  # both processes took part
    assert (tmp_path / "ddp" / "model.json").is_file()


@pytest.mark.slow
def test_fastcut_ranks_flip_the_same_steps(tmp_path, tiny_domains):
    # a flipped step runs one more generator pass (no-grad keys); with batch norm synchronised on
    # GPUs, ranks that disagree about flipping wait on each other's collectives for ever
    calls = tmp_path / "calls"
    calls.mkdir()
    args = train_args(tiny_domains, tmp_path, "fastcut", "flip", "--steps", "8", "--set", "train.bn_refresh=0")
    cmd = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--no-python", sys.executable, str(GENERATOR_CALLS), *args]
    proc = subprocess.run(cmd, env=ENV | {"GENERATOR_CALLS": str(calls)}, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # encoder-only passes: the step's queries (with gradient) and a flipped step's keys (without);
    # the first process alone also runs whole no-grad passes for sample grids
    rank0, rank1 = (
        [c for c in (calls / f"rank{r}.txt").read_text().splitlines() if c.startswith("True")] for r in (0, 1)
    )
    assert rank0 == rank1
    no_grad_keys = rank0.count("True False")  # the flipped steps' extra encoder pass
    assert 0 < no_grad_keys < 8  # some steps flipped, some not


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path, tiny_domains):
    cmd = [
        str(BIN / "vidswap"),
        *train_args(
            tiny_domains, tmp_path, "fastcut", "stop", "--steps", "100000", "--set", "train.checkpoint_every=100000"
        ),
    ]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / ".runs" / "stop" / "losses.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    step = checkpoint_meta(tmp_path / ".runs" / "stop" / CHECKPOINT)["step"]
    assert f"interrupted (SIGINT) at step {step} of 100000" in err
    assert step >= 3 and read_losses(tmp_path / ".runs" / "stop")[-1]["step"] == step
    assert read_card(tmp_path / "stop").partial  # the stop's save is published, marked partial


def test_sigterm_publishes_a_partial_model_that_applies_and_the_same_command_finishes_it(tmp_path, tiny_domains):
    args = train_args(tiny_domains, tmp_path, "fastcut", "term", "--mode", "frame", "--set", "train.checkpoint_every=3")
    proc = subprocess.Popen(
        [str(BIN / "vidswap"), *args, "--steps", "100000"], env=ENV, stderr=subprocess.PIPE, text=True
    )
    card_file = tmp_path / "term" / "model.json"
    deadline = time.time() + 120
    while time.time() < deadline and not card_file.exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # after the first checkpoint published a model
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    step = checkpoint_meta(tmp_path / ".runs" / "term" / CHECKPOINT)["step"]
    assert err.splitlines()[-1] == (
        f"warning: interrupted (SIGTERM) at step {step} of 100000: checkpoint saved, partial model usable "
        "(--model term); rerun the same command to continue"
    )
    assert "Traceback" not in err and "stopping" not in err
    card = read_card(tmp_path / "term")
    assert (card.partial, card.steps, card.total_steps) == (True, step, 100000)  # the stop's save, not an older one
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".term")]  # no temporary folder left

    listing = CliRunner().invoke(cli, ["models", "--models-dir", str(tmp_path)], terminal_width=200)
    assert f"partial {step}/100000" in listing.output
    clip = make_video(tmp_path / "clip.mp4", panned_frames(6, 64, 48))
    out = tmp_path / "out.mp4"
    applied = CliRunner().invoke(cli, ["apply", str(clip), "-o", str(out), "--model", "term", "--models-dir",
                                       str(tmp_path)])  # fmt: skip
    assert applied.exit_code == 0, applied.output
    with open_source(out) as source:
        assert source.info.main_video.frame_count == 6

    again = subprocess.run(
        [str(BIN / "vidswap"), *args, "--steps", str(step + 2)], env=ENV, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resuming term at step {step}" in again.stderr
    card = read_card(tmp_path / "term")
    assert (card.partial, card.steps, card.total_steps) == (False, step + 2, step + 2)
    assert [r["step"] for r in read_losses(tmp_path / ".runs" / "term")] == list(range(1, step + 3))


def test_a_non_finite_loss_on_one_rank_stops_every_rank_with_one_line(tmp_path, tiny_domains):
    # rank 1's batch at step 3 is NaN; rank 0's is clean: both must stop at step 3 with the same message
    logs = tmp_path / "logs"
    cmd = [
        str(BIN / "torchrun"),
        "--nproc_per_node",
        "2",
        "--log-dir",
        str(logs),
        "--redirects",
        "3",
        "--no-python",
        sys.executable,
        str(NAN_ON_RANK),
        "1:3",
        *train_args(tiny_domains, tmp_path, "cut", "nan", "--steps", "8"),
    ]
    began = time.monotonic()
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode != 0
    assert time.monotonic() - began < 120  # gloo's own timeout would be 30 minutes
    errors = {int(path.parent.name): path.read_text() for path in logs.rglob("stderr.log")}
    assert sorted(errors) == [0, 1]
    for rank, text in errors.items():
        lines = [line for line in text.splitlines() if line.startswith("vidswap: error:")]
        assert lines == [
            f"vidswap: error: a loss became non-finite on rank 1 at step 3; the last checkpoint is in "
            f"{tmp_path / '.runs' / 'nan'} (try a lower train.lr or train.amp=off)"
        ], (rank, text[-2000:])
        assert "Traceback" not in text, (rank, text[-2000:])
    assert checkpoint_meta(tmp_path / ".runs" / "nan" / CHECKPOINT)["step"] == 2  # the last good state is kept


def test_a_one_process_run_resumes_with_two_processes(tmp_path, tiny_domains):
    one = [str(BIN / "vidswap"), *train_args(tiny_domains, tmp_path, "cyclegan", "grow", "--steps", "2")]
    first = subprocess.run(one, env=ENV, capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stderr[-3000:]
    _, tensors = read_checkpoint(tmp_path / ".runs" / "grow" / CHECKPOINT)
    assert "rng/torch/1" not in tensors
    proc = train_on_two_processes(train_args(tiny_domains, tmp_path, "cyclegan", "grow", "--steps", "4"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming grow at step 2" in proc.stderr
    rows = read_losses(tmp_path / ".runs" / "grow")
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all(all_finite(r) for r in rows)
    meta, tensors = read_checkpoint(tmp_path / ".runs" / "grow" / CHECKPOINT)
    assert meta["step"] == 4 and {"rng/torch/0", "rng/torch/1"} <= set(tensors)
    assert (tmp_path / "grow" / "model.json").is_file()
