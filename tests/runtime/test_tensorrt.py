"""The TensorRT backend's logic against fake TensorRT 10.x and 11.x modules on a fake GPU
(tests/runtime/fake_tensorrt.py, fake_cuda.py): strongly typed builds, fp16 graphs,
timing cache, profiles, chunked batches, engines per size, device and stream handling.
The fp16 graph itself runs for real on CPU ONNX Runtime."""

from __future__ import annotations

import onnx
import pytest
import torch

from tests.runtime.fake_tensorrt import REMOVED_IN_11, make_tensorrt
from vidswap.runtime import create_backend, onnx_path
from vidswap.runtime.export import FP32_OPS, ensure_fp16_onnx
from vidswap.runtime.verify import psnr, sample_batch

ort = pytest.importorskip("onnxruntime")


def eager(model, x):
    with torch.inference_mode():
        return model.generator(x)


def tensorrt(model, **kwargs):
    settings = dict(device="cuda:1", batch_sizes=(1,), image_size=(48, 80), model_folder=model.folder) | kwargs
    return create_backend(model.generator, "tensorrt", **settings)


def calls(trt, kind):
    return [call for call in trt.calls if call[0] == kind]


def test_fakes_have_each_versions_names():
    trt10, trt11 = make_tensorrt(10), make_tensorrt(11)
    for name in REMOVED_IN_11:
        assert getattr(trt10.BuilderFlag, name) is not None
        with pytest.raises(AttributeError):
            getattr(trt11.BuilderFlag, name)
    for trt in (trt10, trt11):
        assert trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED is not None
        with pytest.raises(AttributeError):
            trt.BuilderFlag.STRICT_TYPES  # noqa: B018 (removed in 10.0)
    with pytest.raises(AttributeError):
        trt11.Builder(trt11.Logger()).platform_has_fast_fp16  # noqa: B018


def test_fp16_graph_keeps_io_and_normalisation_in_fp32_and_matches_torch(exported_model, images):
    fp32_file = onnx_path(exported_model.folder, "AtoB")
    graph = onnx.load(str(ensure_fp16_onnx(fp32_file))).graph
    io_types = {v.type.tensor_type.elem_type for v in [*graph.input, *graph.output]}
    assert io_types == {onnx.TensorProto.FLOAT}
    weight_types = {init.name: init.data_type for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Conv":
            assert weight_types[node.input[1]] == onnx.TensorProto.FLOAT16
        if node.op_type in FP32_OPS:  # fed through a cast back to fp32, with fp32 parameters
            assert all(weight_types.get(name, onnx.TensorProto.FLOAT) == onnx.TensorProto.FLOAT for name in node.input)
    assert any(node.op_type == "InstanceNormalization" for node in graph.node)
    session = ort.InferenceSession(str(fp32_file.with_name("AtoB.fp16.onnx")), providers=["CPUExecutionProvider"])
    out = torch.from_numpy(session.run(None, {"input": images.numpy()})[0])
    assert out.dtype == torch.float32
    assert 45 < psnr(eager(exported_model, images), out) < 200  # close to torch, and really in fp16


@pytest.mark.parametrize("fp16", [False, True], ids=["fp32", "fp16"])
def test_strongly_typed_engine_matches_torch(exported_model, images, fake_trt, fp16):
    backend = tensorrt(exported_model, fp16=fp16, batch_sizes=(3,))
    assert (backend.name, backend.precision) == ("tensorrt", "fp16" if fp16 else "fp32")
    assert psnr(eager(exported_model, images), backend(images)) > 40
    # one strongly typed build, no weak-typing flag, on the engine's device
    assert calls(fake_trt, "build") == [("build", 1, True, [], False)]
    assert backend.engine_file.name.startswith("AtoB.fp16." if fp16 else "AtoB.")
    assert backend.engine_file.name.endswith(".b3_48x80_48x80_48x80.engine") and backend.engine_file.is_file()
    assert len(list(exported_model.folder.glob("tensorrt.*.timing-cache"))) == 1


def test_more_images_than_the_engine_takes_run_in_chunks(exported_model, images, fake_trt):
    backend = tensorrt(exported_model, batch_sizes=(1,))  # face mode: an engine for 1, a frame with 3 faces
    assert psnr(eager(exported_model, images), backend(images)) > 40
    assert [call[3] for call in calls(fake_trt, "execute")][-3:] == [(1, 3, 48, 80)] * 3
    context = backend.engines[0].context  # the fake refuses what TensorRT refuses
    assert not context.set_input_shape("input", (2, 3, 48, 80))
    assert not context.set_input_shape("input", (1, 3, 64, 64))


def test_a_new_size_gets_its_own_engine_and_a_later_backend_loads_it(exported_model, fake_trt):
    backend = tensorrt(exported_model, batch_sizes=(2,))
    x = sample_batch(2, 64, 96)  # the next video of a batch run, at another size
    assert psnr(eager(exported_model, x), backend(x)) > 40
    first, second = calls(fake_trt, "build")
    assert second[4]  # the second build found the first one's timings in the timing cache
    assert len(list(exported_model.folder.glob("*.engine"))) == 2
    fake_trt.calls.clear()
    again = tensorrt(exported_model, batch_sizes=(2,), image_size=(64, 96))
    assert torch.equal(again(x), backend(x))
    assert not calls(fake_trt, "build")


def test_a_timing_cache_from_another_device_is_replaced_not_kept(exported_model, fake_trt, monkeypatch):
    tensorrt(exported_model)
    (cache_file,) = exported_model.folder.glob("tensorrt.*.timing-cache")
    # a card with the same name but other properties timed it (or the file was copied from one)
    cache_file.write_bytes(cache_file.read_bytes().replace(b'"Fake GPU"', b'"Fake GPU, other clocks"'))
    fake_trt.calls.clear()
    backend = tensorrt(exported_model, batch_sizes=(2,))
    backend(sample_batch(2, 64, 96))  # a second size: a second build, whose timings the cache now keeps
    backend(sample_batch(2, 32, 48))
    builds = calls(fake_trt, "build")
    assert len(builds) == 3 and builds[2][4]  # the third build found the second's timings
    assert b"other clocks" not in cache_file.read_bytes()


def test_an_engine_whose_range_covers_the_frames_is_reused(exported_model, fake_trt):
    exported = tensorrt(exported_model, batch_sizes=(4,), image_size=(64, 64), size_range=((32, 32), (128, 160)))
    assert exported.engine_file.name.endswith(".b4_32x32_64x64_128x160.engine")
    fake_trt.calls.clear()
    backend = tensorrt(exported_model, batch_sizes=(2,), image_size=(48, 80))
    x = sample_batch(4, 96, 112)
    assert psnr(eager(exported_model, x), backend(x)) > 40
    assert not calls(fake_trt, "build")
    assert [call[3] for call in calls(fake_trt, "execute")][-1] == (4, 3, 96, 112)


def test_engine_device_is_current_and_work_runs_on_the_backends_stream(exported_model, images, fake_trt, fake_gpu):
    backend = tensorrt(exported_model, device="cuda:1", batch_sizes=(3,))
    fake_gpu.events.clear()
    backend(images)
    assert fake_gpu.current == 0  # the caller's device is current again
    assert {call[1] for call in fake_trt.calls if call[0] in ("build", "deserialize", "execute")} == {1}
    stream = backend.stream.cuda_stream
    assert stream != 0 and calls(fake_trt, "execute")[-1][2] == stream
    # the engine waits for the caller's stream, the caller for the engine's; the allocator is told
    waits = [("wait", stream, 0), ("record_stream", stream), ("record_stream", stream), ("wait", 0, stream)]
    assert fake_gpu.events == waits


def test_auto_on_a_gpu_falls_back_to_torch_when_writing_the_engine_fails(exported_model, fake_trt, monkeypatch, caplog):
    def disk_full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("vidswap.runtime.tensorrt_backend.atomic_write_bytes", disk_full)
    folder = exported_model.folder
    backend = create_backend(exported_model.generator, device="cuda:1", image_size=(48, 80), model_folder=folder)
    assert backend.name == "torch"
    assert "backend tensorrt failed (OSError: [Errno 28] No space left on device)" in caplog.text
