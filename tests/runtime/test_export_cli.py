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


def test_export_by_name_from_a_models_dir(tiny_model, capsys):
    code, out, _ = run_cli(["export", "--model", "tiny", "--models-dir", str(tiny_model.folder.parent)], capsys)
    assert code == 0 and out.strip().endswith("AtoB.onnx")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--format", "onnx", "--fp16"], 2, "apply to tensorrt engines"),
        (["--generator", "BtoA"], 2, "has no generator 'BtoA'"),
        (["--size", "8"], 2, "at least 16"),
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
    code, _, err = run_cli(["export", "--model", str(tiny_model.folder), "--format", "tensorrt", "--device", "cpu"], capsys)
    assert code == 5 and "pip install tensorrt" in err and err.count("\n") == 1
    code, _, err = run_cli(["export", "--model", str(tiny_model.folder), "--format", "tensorrt"], capsys)
    assert code == 5 and "pip install tensorrt" in err and err.count("\n") == 1  # not a complaint about --device
