"""A damaged or mismatched model file (the weights, the ONNX export, a TensorRT engine) is one
line naming the file, with the model error's exit code (4); nothing is written."""

from __future__ import annotations

import shutil

import onnx
import pytest

from tests.helpers import run_cli
from tests.runtime.helpers import TINY, save_tiny_model
from vidswap.errors import ModelError
from vidswap.models import load_model
from vidswap.runtime import create_backend, onnx_path


def apply_fails(model_folder, clip, tmp_path, capsys, *options) -> str:
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["-q", "apply", str(clip), "-o", str(out), "-m", str(model_folder), *options], capsys)
    assert code == 4 and len(err.strip().splitlines()) == 1, err
    assert "internal error" not in err and not out.exists()
    assert list(tmp_path.glob("*.mp4")) == []
    return err


def test_truncated_weights(tmp_path, clips, capsys):
    model = save_tiny_model(tmp_path / "tiny")
    weights = model.folder / "AtoB.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    err = apply_fails(model.folder, clips["cfr"], tmp_path, capsys)
    assert f"{weights} is damaged" in err


def test_weights_that_do_not_fit_the_card(tmp_path, clips, capsys):
    model = save_tiny_model(tmp_path / "tiny")
    card = (model.folder / "model.json").read_text()
    (model.folder / "model.json").write_text(card.replace(f'"ngf": {TINY["ngf"]}', '"ngf": 8'))
    err = apply_fails(model.folder, clips["cfr"], tmp_path, capsys)
    assert f"{model.folder / 'AtoB.safetensors'} is damaged or from another model" in err and "size mismatch" in err


def test_missing_weights(tmp_path):
    model = save_tiny_model(tmp_path / "tiny")
    (model.folder / "AtoB.safetensors").unlink()
    with pytest.raises(ModelError, match="AtoB.safetensors is missing"):
        load_model(str(model.folder))


def test_an_export_onnx_runtime_refuses(exported_folder, tmp_path, clips, capsys):
    folder = shutil.copytree(exported_folder, tmp_path / "tiny")
    graph = onnx.load(str(onnx_path(folder, "AtoB")))  # its weights fingerprint still matches: kept
    graph.graph.node[0].op_type = "NoSuchOperator"
    onnx.save(graph, str(onnx_path(folder, "AtoB")))
    # the plain graph: held statistics would run another (AtoB.held.onnx)
    err = apply_fails(folder, clips["cfr"], tmp_path, capsys, "--backend", "onnx", "--hold-norm", "off")
    assert f"{onnx_path(folder, 'AtoB')} is damaged" in err


def test_a_truncated_export_is_exported_again(exported_folder, tmp_path):
    folder = shutil.copytree(exported_folder, tmp_path / "tiny")
    path = onnx_path(folder, "AtoB")
    path.write_bytes(path.read_bytes()[:200])
    model = load_model(str(folder))
    backend = create_backend(model.generator, "onnx", image_size=(64, 64), model_folder=folder)
    assert backend.session is not None and onnx.load(str(path)).graph.node  # a whole file again


def test_a_damaged_tensorrt_engine(exported_model, fake_trt):
    settings = dict(device="cuda:1", batch_sizes=(1,), image_size=(48, 80), model_folder=exported_model.folder)
    engine = create_backend(exported_model.generator, "tensorrt", **settings).engine_file
    engine.write_bytes(bytes(64))  # zeroed on disk
    with pytest.raises(ModelError, match=f"{engine} is damaged or made by another TensorRT"):
        create_backend(exported_model.generator, "tensorrt", **settings)
