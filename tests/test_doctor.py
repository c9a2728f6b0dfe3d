"""`vidswap doctor`: a real run on this machine, and the decisions it makes from given versions."""

from __future__ import annotations

import json
import platform

import pytest
import torch

from tests.helpers import run_cli
from vidswap import diagnostics
from vidswap.diagnostics import (
    Facts,
    Gpu,
    advice,
    driver_cuda_version,
    matching_cuda_build,
    parse_cuda_version,
    torch_install_command,
)

NO_GPU = not torch.cuda.is_available()


def test_json_report_of_this_machine(capsys):
    code, out, _ = run_cli(["doctor", "--json"], capsys)
    report = json.loads(out)
    assert code == 0
    assert report["python"].startswith(platform.python_version())
    assert report["torch"] == torch.__version__ and report["torch_cuda"] == torch.version.cuda
    assert "libx264" in report["encoders"]  # PyAV's own FFmpeg always has it
    assert "CPUExecutionProvider" in report["onnxruntime_providers"]
    if NO_GPU:
        assert report["gpus"] == []
        assert report["advice"][0].startswith("No usable GPU:")
        assert "vidswap train" in report["advice"][0] and "tensorrt" in report["advice"][0]


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_table_says_plainly_there_is_no_gpu(capsys):
    code, out, _ = run_cli(["doctor"], capsys)
    assert code == 0
    assert "torch" in out and "video encoders" in out and "libx264" in out
    assert "- No usable GPU" in out


def test_cuda_versions_parse_from_the_driver_api_and_from_text():
    assert parse_cuda_version(12080) == (12, 8)
    assert parse_cuda_version(13000) == (13, 0)
    assert parse_cuda_version("12.4") == (12, 4)
    assert parse_cuda_version("13.0.96") == (13, 0)
    assert parse_cuda_version(None) is None


@pytest.mark.parametrize(
    ("torch_cuda", "driver", "index"),
    [
        ((13, 0), (12, 4), "cu126"),  # CUDA 13 torch on a CUDA 12.4 driver: newest 12.x build it runs
        ((13, 0), (12, 8), "cu128"),
        ((13, 2), (12, 9), "cu129"),
        ((12, 8), (11, 4), "cu118"),
        (None, (12, 6), "cu126"),  # a CPU-only torch on a machine with a driver
        ((13, 0), (13, 0), None),  # matches
        ((12, 8), (13, 1), None),  # an older build runs on a newer driver
        ((13, 0), None, None),  # no driver: nothing to match
        ((12, 6), (10, 2), None),  # no PyTorch build for that driver
    ],
)
def test_matching_torch_command_for_a_driver(torch_cuda, driver, index):
    command = torch_install_command(torch_cuda, driver)
    if index is None:
        assert command is None
    else:
        assert command == (
            f"pip install --force-reinstall torch torchvision --index-url https://download.pytorch.org/whl/{index}"
        )


def test_driver_newer_minor_of_the_same_major_keeps_the_newest_fitting_build():
    assert matching_cuda_build((12, 7)) == (12, 6)
    assert matching_cuda_build((12, 2)) == (12, 6)  # minor-version compatibility within CUDA 12
    assert matching_cuda_build((14, 1)) == (13, 0)


def _facts(**changes) -> Facts:
    base = dict(python="3.12.1", platform="Linux x86_64", torch="2.15.0+cu130", torch_cuda="13.0",
                driver_cuda="13.0", cuda_error=None, onnxruntime="1.31.1",
                onnxruntime_providers=["CPUExecutionProvider"], encoders=["libx264"])  # fmt: skip
    return Facts(**(base | changes))


def _gpu(**changes) -> Gpu:
    return Gpu(**(dict(index=0, name="NVIDIA H200", memory_gib=139.8, capability="9.0", bf16=True, allocates=True)
                  | changes))  # fmt: skip


def test_advice_for_a_driver_older_than_torchs_cuda_build():
    too_old = "CUDA initialization: The NVIDIA driver on your system is too old (found version 12040)."
    lines = advice(_facts(driver_cuda="12.4", cuda_error=too_old))
    assert lines[0] == (
        "No usable GPU: "
        + too_old
        + " Everything runs on the CPU (slowly); a GPU would be used by "
        + diagnostics.GPU_USES
        + "."
    )
    assert "torch 2.15.0+cu130 is built for CUDA 13.0, but the driver supports CUDA 12.4" in lines[1]
    assert "--index-url https://download.pytorch.org/whl/cu126`" in lines[1]


def test_advice_for_a_working_gpu_names_what_is_missing():
    assert advice(_facts(gpus=[_gpu()], tensorrt="11.4.0", onnxruntime_providers=["CUDAExecutionProvider"])) == []
    lines = advice(_facts(gpus=[_gpu(bf16=False, capability="7.5")]))
    assert [line.split(" ")[0] for line in lines] == ["TensorRT", "ONNX", "A"]
    assert "`pip install tensorrt-cu13` (TensorRT 11)" in lines[0] and "onnxruntime-gpu" in lines[1]
    assert "`pip install tensorrt-cu12==10.16.*`" in advice(_facts(torch_cuda="12.8", gpus=[_gpu()]))[0]
    broken = advice(_facts(gpus=[_gpu()], tensorrt_error="ImportError: libnvinfer.so.10: cannot open"))
    assert broken[0] == "TensorRT is installed but does not load: ImportError: libnvinfer.so.10: cannot open."


def test_advice_when_torch_cannot_allocate_on_a_gpu_it_sees():
    error = "RuntimeError: CUDA error: out of memory"
    (line,) = advice(_facts(gpus=[_gpu(allocates=False, error=error)]))
    assert line.startswith(f"No usable GPU: torch cannot allocate on it ({error}).")


def test_driver_version_from_nvidia_smi_when_libcuda_is_absent(tmp_path, monkeypatch):
    # stands in for the NVIDIA tool, absent here; its header line is what real nvidia-smi prints
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho '| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4     |'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))

    def no_libcuda(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(diagnostics.ctypes, "CDLL", no_libcuda)
    assert driver_cuda_version() == (12, 4)
    smi.unlink()
    assert driver_cuda_version() is None
