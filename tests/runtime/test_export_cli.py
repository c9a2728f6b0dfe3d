"""`vidswap export` writes checked artefacts into the model folder."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli
from vidswap.runtime.tensorrt_backend import tensorrt_available

pytest.importorskip("onnxruntime")


def test_export_onnx_writes_into_the_model_folder(tiny_model, capsys):
    folder = tiny_model.folder
    code, out, _ = run_cli(["export", "--model", str(folder), "--format", "onnx"], capsys)
    assert code == 0
    assert out.strip() == str(folder / "AtoB.onnx")
    assert (folder / "AtoB.onnx").stat().st_size > 1000
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_export_by_name_from_a_models_dir(exported_model, capsys):
    code, out, _ = run_cli(["export", "--model", "tiny", "--models-dir", str(exported_model.folder.parent)], capsys)
    assert code == 0 and out.strip().endswith("AtoB.onnx")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--format", "onnx", "--fp16"], 2, "apply to tensorrt engines"),
        (["--generator", "BtoA"], 2, "has no generator 'BtoA'"),
        (["--size", "8"], 2, "at least 16"),
        (["--format", "onnx", "--max-size", "512"], 2, "apply to tensorrt engines"),
        (["--format", "tensorrt", "--size", "64", "--min-size", "96x64"], 2, "must grow in height and width"),
        (["--format", "tensorrt", "--max-size", "1x2"], 2, "--max-size"),
    ],
)
def test_export_user_errors(tiny_model, capsys, argv, code, message):
    got, _, err = run_cli(["export", "--model", str(tiny_model.folder), *argv], capsys)
    assert got == code
    assert message in err and "Traceback" not in err


def test_export_builtin_or_unknown_model_is_refused(capsys):
    code, _, err = run_cli(["export", "--model", "identity"], capsys)
    assert code == 4 and "built in" in err
    code, _, err = run_cli(["export", "--model", "no-such-model", "--models-dir", "/nonexistent"], capsys)
    assert code == 4 and "not found" in err


@pytest.mark.skipif(tensorrt_available(), reason="TensorRT is installed here")
def test_export_tensorrt_without_tensorrt(tiny_model, capsys):
    argv = ["export", "--model", str(tiny_model.folder), "--format", "tensorrt"]
    code, _, err = run_cli([*argv, "--device", "cpu"], capsys)
    assert code == 5 and "pip install tensorrt" in err and err.count("\n") == 1
    code, _, err = run_cli(argv, capsys)
    assert code == 5 and "pip install tensorrt" in err and err.count("\n") == 1  # not a complaint about --device


@pytest.mark.parametrize("fp16", [False, True], ids=["fp32", "fp16"])
def test_export_tensorrt_engine_for_a_size_range(exported_model, fake_trt, capsys, fp16):
    """With the fake TensorRT (10.x and 11.x) on a fake GPU: the engine's profile spans the
    sizes and batch asked for, and its file says so."""
    argv = ["export", "--model", str(exported_model.folder), "--format", "tensorrt", "--device", "cuda:1", "--size",
            "64", "--min-size", "32", "--max-size", "128x160", "--batch", "4"] + ["--fp16"] * fp16  # fmt: skip
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    engine = out.strip()
    assert engine.startswith(str(exported_model.folder / ("AtoB.fp16." if fp16 else "AtoB.")))
    assert engine.endswith(".b4_32x32_64x64_128x160.engine")
