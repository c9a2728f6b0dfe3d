"""Training in real subprocesses: 2-process DDP through torchrun (gloo on CPU), and Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training.helpers import all_finite, read_losses
from trainer.checkpoint import CHECKPOINT, checkpoint_meta, read_checkpoint

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "160"}


def train_args(domains, store, method, name, *extra):
    a, b = domains
    return ["train", "--source", str(a), "--target", str(b), "--method", method, "--name", name,
            "--config", "tiny", "--models-dir", str(store), *extra]


@pytest.mark.parametrize("method", ["cut", pytest.param("cyclegan", marks=pytest.mark.slow),
                                    pytest.param("acgan", marks=pytest.mark.slow)])
def test_two_process_gloo_ddp_trains(method, tmp_path, tiny_domains):
    cmd = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--no-python", str(BIN / "vidswap"),
           *train_args(tiny_domains, tmp_path, method, "ddp")]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_losses(tmp_path / ".runs" / "ddp")
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all(all_finite(r) for r in rows)
    _, tensors = read_checkpoint(tmp_path / ".runs" / "ddp" / CHECKPOINT)
    assert {"rng/torch/0", "rng/torch/1"} <= set(tensors)  # both processes took part
    assert (tmp_path / "ddp" / "model.json").is_file()


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path, tiny_domains):
    cmd = [str(BIN / "vidswap"), *train_args(tiny_domains, tmp_path, "fastcut", "stop", "--steps", "100000",
                                             "--set", "train.checkpoint_every=100000")]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / ".runs" / "stop" / "losses.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted at step" in err
    step = checkpoint_meta(tmp_path / ".runs" / "stop" / CHECKPOINT)["step"]
    assert step >= 3 and read_losses(tmp_path / ".runs" / "stop")[-1]["step"] == step
    assert not (tmp_path / "stop").exists()  # no model folder from an unfinished run
