"""scripts/gpu_check.py, scripts/backend_probe.py and scripts/bench_backends.py without a GPU:
a failing check or backend stops only its own row, the deadline's rows say "not reached",
and the probe really compares a backend with torch (on CPU)."""

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runtime.helpers import save_tiny_model

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gpu_check = load_script("gpu_check")


def machine(missing=None):
    found = gpu_check.Machine("cpu")
    found.missing = dict(missing or {})
    return found


def step(argv, **kw):
    return gpu_check.Step("a row", [sys.executable, "-c", *argv], 60, **kw)


def test_a_check_that_raises_fails_its_row_only(tmp_path):
    def check():
        return (tmp_path / "never-written.json").read_text()

    passing = gpu_check.Step("a row", ["true"], 60, check=check)
    row = gpu_check.run(passing, {}, time.monotonic() + 60, {}, machine())
    assert row.result == "fail" and "FileNotFoundError" in row.detail


@pytest.mark.slow
def test_rows_the_deadline_cuts_off_are_not_reached_and_a_step_timeout_is_a_failure():
    sleeper = step(["import time; time.sleep(30)"])
    row = gpu_check.run(sleeper, {}, time.monotonic() + 11, {}, machine())
    assert (row.result, row.detail[:25]) == ("not reached", "cut off by the deadline a")
    row = gpu_check.run(sleeper, {}, time.monotonic() + 5, {}, machine())
    assert row.result == "not reached"
    sleeper.timeout = 1
    row = gpu_check.run(sleeper, {}, time.monotonic() + 60, {}, machine())
    assert (row.result, row.detail) == ("fail", "timed out after 1 s")


def test_cpu_onnxruntime_beside_onnxruntime_gpu_is_named(monkeypatch):
    monkeypatch.setattr(gpu_check, "installed_distributions", lambda: {"onnxruntime", "onnxruntime-gpu", "torch"})
    monkeypatch.setattr(gpu_check.torch.cuda, "is_available", lambda: True)
    found = gpu_check.Machine("cuda:0")
    assert found.missing["onnx-cuda"] == gpu_check.ONNXRUNTIME_CLASH


def test_quick_plan_covers_every_path(tmp_path):
    phases = gpu_check.plan(tmp_path, "cuda:0", machine(), gpu_check.QUICK)
    names = [s.name for phase in phases for s in phase]
    assert len(names) == len(set(names))
    for wanted in ("train fastcut amp fp16", "resume", "torchrun 2 processes on one GPU (gloo)",
                   "apply face mode, two faces, tensorrt, fp16", "apply --backend auto",
                   "TensorRT broken: falls back", "tensorrt fp16: a batch larger than made for, a second frame size",
                   "export --format tensorrt --fp16", "extract --mode face", "a NaN on rank 1 at step 2"):  # fmt: skip
        assert any(wanted in name for name in names), wanted
    torchrun = next(s for phase in phases for s in phase if s.name.startswith("torchrun"))
    assert (
        torchrun.argv[3:6] == ["--standalone", "--nproc_per_node", "2"] and "train.dist_backend=gloo" in torchrun.argv
    )


@pytest.mark.slow
def test_bench_backends_reports_a_failing_backend_and_goes_on():
    cmd = [sys.executable, str(ROOT / "scripts" / "bench_backends.py"), "--nets", "tiny", "--sizes", "32x32",
           "--seconds", "0.1", "--backends", "tensorrt", "torch"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| tiny")]
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert rows[0].startswith("| tiny | 32x32 | tensorrt | failed: ") and "| torch" in rows[1]


@pytest.mark.slow
def test_backend_probe_checks_chunks_and_a_second_size_against_torch(tmp_path):
    model = save_tiny_model(tmp_path / "tiny")
    cmd = [sys.executable, str(ROOT / "scripts" / "backend_probe.py"), "--model", str(model.folder), "--backend",
           "torch", "--device", "cpu"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "batch 5 (made for 2): shape (5, 3, 64, 96), PSNR inf dB" in proc.stdout
    assert "a second size, 48x128: shape (2, 3, 48, 128)" in proc.stdout


@pytest.mark.slow
def test_the_nan_row_passes_when_both_ranks_stop_together(tmp_path):
    gpu_check.make_data(tmp_path)
    phases = gpu_check.plan(tmp_path, "cpu", machine(), gpu_check.QUICK)
    nan = next(s for s in phases[0] if "a NaN on rank 1" in s.name)
    env = gpu_check.os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "VIDSWAP_HOME": str(tmp_path)}
    row = gpu_check.run(nan, env, time.monotonic() + 300, {}, machine())
    assert (row.result, row.detail) == ("pass", ""), row.output[-3000:]
    assert gpu_check.both_ranks_stopped("vidswap: error: a loss became non-finite on rank 1 at step 2") is not None
