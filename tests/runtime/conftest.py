"""Fixtures for the runtime tests: a tiny saved model, a batch of images, and the fake
GPU and fake TensorRT (10.x and 11.x) for the TensorRT backend's logic."""

from __future__ import annotations

import shutil
import sys

import pytest
import torch

from tests.runtime.fake_cuda import FakeGpu, HostMemory
from tests.runtime.fake_tensorrt import make_tensorrt
from tests.runtime.helpers import save_tiny_model
from vidswap.models import load_model
from vidswap.runtime import export_onnx, onnx_path


@pytest.fixture
def tiny_model(tmp_path):
    return save_tiny_model(tmp_path / "tiny")


@pytest.fixture(scope="session")
def exported_folder(tmp_path_factory):
    model = save_tiny_model(tmp_path_factory.mktemp("exported") / "tiny")
    export_onnx(model.generator, onnx_path(model.folder, "AtoB"), image_size=(64, 64))
    return model.folder


@pytest.fixture
def exported_model(exported_folder, tmp_path):
    """A copy of the tiny model with its ONNX file, exported before a fake GPU is put in
    place (the exporter looks for a real one): request it before fake_gpu / fake_trt."""
    return load_model(str(shutil.copytree(exported_folder, tmp_path / "tiny")))


@pytest.fixture
def images():
    """A batch of 3 image-like inputs in [-1, 1] at a size that is not square."""
    torch.manual_seed(1)
    base = torch.linspace(-1, 1, 80).view(1, 1, 1, 80) * torch.linspace(-1, 1, 48).view(1, 1, 48, 1)
    return (base + 0.3 * torch.randn(3, 3, 48, 80)).clamp(-1, 1)


@pytest.fixture
def fake_gpu(monkeypatch):
    """Two fake GPUs whose "device memory" is host memory."""
    gpu = FakeGpu(monkeypatch)
    with HostMemory():
        yield gpu


@pytest.fixture(params=[10, 11], ids=["trt10", "trt11"])
def fake_trt(request, monkeypatch, fake_gpu):
    """A fake `tensorrt` module of each major version, importable as `tensorrt`."""
    module = make_tensorrt(request.param)
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    return module
