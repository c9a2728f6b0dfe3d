"""The backend registry, `auto`'s order and fallback, and ONNX Runtime's silent CPU fallback."""

from __future__ import annotations

import logging

import pytest
import torch

from vidswap.choices import BackendName, choices
from vidswap.errors import BackendUnavailable
from vidswap.runtime import REGISTRY, auto_order, create_backend
from vidswap.runtime.base import Backend
from vidswap.runtime.export import onnx_path
from vidswap.runtime.onnxruntime_backend import OnnxRuntimeBackend

pytest.importorskip("onnxruntime")


def test_registry_names_are_the_backend_choices():
    assert set(REGISTRY) == set(choices(BackendName)) - {"auto"}
    assert all(name == cls.name for name, cls in REGISTRY.items())


def test_auto_order_reads_the_registry(fake_trt):
    assert auto_order(torch.device("cpu")) == ["onnx", "torch"]
    assert auto_order(torch.device("cuda:1")) == ["tensorrt", "torch"]


def test_auto_order_on_cuda_without_tensorrt(monkeypatch):
    monkeypatch.setattr(REGISTRY["tensorrt"], "available", classmethod(lambda cls: False))
    assert auto_order(torch.device("cuda")) == ["torch"]


def _failing(error: BaseException, name: str = "failing") -> type[Backend]:
    class Failing(Backend):
        auto_on = ("cpu",)
        auto_rank = -1  # tried first

        @classmethod
        def create(cls, request):
            raise error

    Failing.name = name
    return Failing


@pytest.mark.parametrize(
    "error", [RuntimeError("[TRT] engine build failed"), OSError(28, "No space left on device")], ids=repr
)
def test_auto_falls_back_on_any_failure_and_says_so(exported_model, monkeypatch, caplog, error):
    monkeypatch.setitem(REGISTRY, "failing", _failing(error))
    with caplog.at_level(logging.WARNING, logger="vidswap.runtime"):
        backend = create_backend(exported_model.generator, image_size=(64, 64), model_folder=exported_model.folder)
    assert backend.name == "onnx"
    (record,) = caplog.records
    assert "backend failing failed" in record.getMessage() and str(error) in record.getMessage()


def test_auto_never_swallows_keyboard_interrupt(tiny_model, monkeypatch):
    monkeypatch.setitem(REGISTRY, "failing", _failing(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        create_backend(tiny_model.generator, image_size=(64, 64), model_folder=tiny_model.folder)


def test_only_the_last_candidates_failure_propagates(tiny_model, monkeypatch, caplog):
    first, second = _failing(RuntimeError("first"), "first"), _failing(OSError("second"), "second")
    monkeypatch.setattr("vidswap.runtime.REGISTRY", {"first": first, "second": second})
    with pytest.raises(OSError, match="second"):
        create_backend(tiny_model.generator, image_size=(64, 64), model_folder=tiny_model.folder)
    assert "first" in caplog.text


class CpuOnlySession:
    """Stands in for onnxruntime.InferenceSession on a machine where the CUDA provider's
    libraries fail to load: ORT logs the failure and keeps only its CPU provider. (A fake
    only because no GPU exists here.)"""

    asked = None

    def __init__(self, path, options=None, providers=None):
        CpuOnlySession.asked = providers

    def get_providers(self):
        return ["CPUExecutionProvider"]


def test_onnxruntime_that_fell_back_to_cpu_is_refused_on_cuda(exported_model, monkeypatch):
    import onnxruntime

    onnx_file = onnx_path(exported_model.folder, "AtoB")
    monkeypatch.setattr(onnxruntime, "InferenceSession", CpuOnlySession)
    with pytest.raises(BackendUnavailable, match="could not start its CUDA provider"):
        OnnxRuntimeBackend(onnx_file, torch.device("cuda:1"))
    assert CpuOnlySession.asked[0] == ("CUDAExecutionProvider", {"device_id": 1})
