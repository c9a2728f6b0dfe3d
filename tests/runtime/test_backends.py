"""Every backend available here computes what torch eager computes."""

from __future__ import annotations

import json

import onnx
import pytest
import torch

from tests.runtime.helpers import save_tiny_model
from vidswap.errors import ConfigError, MissingDependency, ModelError
from vidswap.runtime import create_backend, export_onnx, onnx_path
from vidswap.runtime.tensorrt_backend import tensorrt_available
from vidswap.runtime.verify import VERDICT_FILE, psnr

pytest.importorskip("onnxruntime")

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")


def eager(model, x):
    with torch.inference_mode():
        return model.generator(x)


def test_onnxruntime_cpu_matches_torch_at_any_size(tiny_model, images):
    backend = create_backend(tiny_model.generator, "onnx", image_size=(64, 64), model_folder=tiny_model.folder)
    assert backend.name == "onnx"
    out = backend(images)  # a size and batch other than the export example: dynamic axes
    assert out.shape == images.shape
    assert torch.allclose(out, eager(tiny_model, images), atol=1e-4)
    assert onnx_path(tiny_model.folder, "AtoB").is_file()


def test_verdict_is_cached_and_a_bad_one_refuses(exported_model):
    folder = exported_model.folder
    create_backend(exported_model.generator, "onnx", image_size=(64, 64), model_folder=folder)
    verdicts = json.loads((folder / VERDICT_FILE).read_text())
    (key,) = verdicts
    assert verdicts[key]["psnr"] > 40
    # the cached verdict is trusted: mark it failed and the backend is refused...
    verdicts[key]["psnr"] = 12.0
    (folder / VERDICT_FILE).write_text(json.dumps(verdicts))
    with pytest.raises(ModelError, match="PSNR 12.0 dB"):
        create_backend(exported_model.generator, "onnx", image_size=(64, 64), model_folder=folder)
    # ...and auto falls back to torch eager
    assert create_backend(exported_model.generator, "auto", image_size=(64, 64), model_folder=folder).name == "torch"


def test_onnx_file_of_other_weights_is_caught(exported_model, tmp_path, images):
    """An ONNX file that claims to be made from this model's weights but is not (a
    stale or tampered export) fails the check against torch."""
    model = exported_model
    other = save_tiny_model(tmp_path / "other", seed=1)
    real = onnx.load(str(onnx_path(model.folder, "AtoB")))  # made from the model's own weights
    path = export_onnx(other.generator, onnx_path(model.folder, "AtoB"), image_size=(64, 64))
    proto = onnx.load(str(path))
    proto.metadata_props[0].value = real.metadata_props[0].value
    onnx.save(proto, str(path))
    with pytest.raises(ModelError, match="does not reproduce the model"):
        create_backend(model.generator, "onnx", image_size=(64, 64), model_folder=model.folder)


def test_onnx_export_follows_new_weights(exported_model, images):
    folder = exported_model.folder
    create_backend(exported_model.generator, "onnx", image_size=(64, 64), model_folder=folder)
    retrained = save_tiny_model(folder.parent / "retrained", seed=3).generator
    backend = create_backend(retrained, "onnx", image_size=(64, 64), model_folder=folder)  # stale file re-exported
    with torch.inference_mode():
        assert psnr(retrained(images), backend(images)) > 60


def test_auto_on_cpu_is_onnxruntime(exported_model):
    backend = create_backend(exported_model.generator, image_size=(64, 64), model_folder=exported_model.folder)
    assert (backend.name, backend.precision, backend.device.type) == ("onnx", "fp32", "cpu")


def test_torch_eager_leaves_the_callers_module_alone(tiny_model, images):
    backend = create_backend(tiny_model.generator, "torch")
    assert backend.module is not tiny_model.generator
    assert torch.equal(backend(images), eager(tiny_model, images))


def test_builtin_identity_runs_through_onnx(images):
    from vidswap.models import load_model

    backend = create_backend(load_model("identity").generator, "onnx", image_size=(48, 80))
    assert torch.equal(backend(images), images)


@pytest.mark.slow
def test_torch_compile_matches_torch(tiny_model, images):
    backend = create_backend(tiny_model.generator, "compile", image_size=(48, 80), model_folder=tiny_model.folder)
    assert torch.allclose(backend(images), eager(tiny_model, images), atol=1e-4)


def test_option_errors_are_one_line_user_errors(tiny_model):
    with pytest.raises(ConfigError, match="unknown backend"):
        create_backend(tiny_model.generator, "openvino")
    with pytest.raises(ConfigError, match="--fp16 needs a CUDA GPU"):
        create_backend(tiny_model.generator, "torch", fp16=True)


@pytest.mark.skipif(tensorrt_available(), reason="TensorRT is installed here")
def test_tensorrt_missing_says_how_to_install(tiny_model):
    with pytest.raises(MissingDependency, match="pip install tensorrt"):
        create_backend(tiny_model.generator, "tensorrt", model_folder=tiny_model.folder)


@needs_cuda
@pytest.mark.skipif(not tensorrt_available(), reason="TensorRT is not installed (NVIDIA wheels, GPU machines only)")
@pytest.mark.parametrize("fp16", [False, True])
def test_tensorrt_matches_torch(tiny_model, fp16):
    x = torch.rand(2, 3, 64, 64, device="cuda") * 2 - 1
    backend = create_backend(
        tiny_model.generator, "tensorrt", device="cuda", fp16=fp16, batch_sizes=(2,), image_size=(64, 64),
        model_folder=tiny_model.folder,
    )  # fmt: skip
    assert backend.engine_file.is_file()
    reference = tiny_model.generator.cuda()
    with torch.inference_mode():
        assert psnr(reference(x), backend(x)) > 40


@needs_cuda
@pytest.mark.skipif(not tensorrt_available(), reason="TensorRT is not installed (NVIDIA wheels, GPU machines only)")
def test_tensorrt_runs_larger_batches_and_new_sizes(tiny_model):
    """Face mode sends every crop of a frame batch at once; batch workers see videos of other sizes."""
    backend = create_backend(
        tiny_model.generator, "tensorrt", device="cuda", batch_sizes=(1,), image_size=(64, 64),
        model_folder=tiny_model.folder,
    )  # fmt: skip
    reference = tiny_model.generator.cuda()
    for shape in [(3, 3, 64, 64), (2, 3, 48, 80)]:
        x = torch.rand(*shape, device="cuda") * 2 - 1
        with torch.inference_mode():
            assert psnr(reference(x), backend(x)) > 40
    assert len(list(tiny_model.folder.glob("*.engine"))) == 2


@needs_cuda
@pytest.mark.parametrize("name", ["torch", "compile"])
def test_cuda_torch_fp16_matches_fp32(tiny_model, name):
    x = torch.rand(2, 3, 64, 64, device="cuda") * 2 - 1
    backend = create_backend(tiny_model.generator, name, device="cuda", fp16=True, image_size=(64, 64))
    reference = tiny_model.generator.cuda()
    with torch.inference_mode():
        assert psnr(reference(x), backend(x)) > 40


@needs_cuda
def test_onnxruntime_cuda_matches_torch(tiny_model):
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime-gpu is not installed")
    x = torch.rand(2, 3, 64, 64, device="cuda") * 2 - 1
    backend = create_backend(tiny_model.generator, "onnx", device="cuda", image_size=(64, 64))
    reference = tiny_model.generator.cuda()
    with torch.inference_mode():
        for _ in range(2):  # the second call takes the pre-allocated output path
            assert psnr(reference(x), backend(x)) > 40


@pytest.mark.parametrize("network", ["ACGANTranslator", "SwapTranslator", "LiaeTranslator"])
def test_fixed_size_network_exports_with_a_fixed_size(network):
    """The AC-GAN's and the autoencoder's translators resize to their own size inside forward:
    they cannot be exported with dynamic height and width, so their ONNX file takes one size
    and says so."""
    from vidswap.nets import ACGANTranslator, LiaeTranslator, SwapTranslator

    torch.manual_seed(0)
    generator = {
        "ACGANTranslator": lambda: ACGANTranslator(size=32, z_dim=8, ngf=4, ndf=4),
        "SwapTranslator": lambda: SwapTranslator(size=32, ngf=4, latent=8),
        "LiaeTranslator": lambda: LiaeTranslator(size=32, ngf=4, latent=8, own_inter=True),
    }[network]().eval()
    backend = create_backend(generator, "onnx", image_size=(32, 32))
    assert backend.fixed_size == (32, 32)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.inference_mode():
        assert psnr(generator(x), backend(x)) > 60
    with pytest.raises(ModelError, match="takes 32x32 images only"):
        backend(torch.zeros(1, 3, 48, 48))
