"""TensorRT backend: an engine built from the exported ONNX file with the TensorRT Python
API, cached on disk. TensorRT is not a declared dependency (its wheels come from NVIDIA
and need a CUDA GPU): it is imported only here, when asked for.

An engine is only valid for one ONNX graph, TensorRT version, GPU model, precision and
set of input shapes, so all of these key its file name; a stale engine is never loaded,
a new one is built beside it (minutes, once).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch

from vidswap.errors import ConfigError, MissingDependency, ModelError
from vidswap.fsutil import atomic_write_bytes
from vidswap.runtime.base import Backend, device_label
from vidswap.runtime.export import INPUT_NAME, OUTPUT_NAME

log = logging.getLogger(__name__)


def import_tensorrt():
    try:
        import tensorrt
    except ImportError:
        raise MissingDependency("tensorrt", "the tensorrt backend") from None
    return tensorrt


def tensorrt_available() -> bool:
    try:
        import_tensorrt()
    except MissingDependency:
        return False
    return True


Shape = tuple[int, int, int, int]


def engine_path(onnx_file: Path, device: torch.device, fp16: bool, shapes: tuple[Shape, Shape, Shape]) -> Path:
    """Where the engine for this ONNX file, TensorRT version, GPU, precision and
    optimisation profile (min, opt, max input shapes) lives, next to the ONNX file."""
    trt = import_tensorrt()
    onnx_hash = hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    key = "|".join([onnx_hash, trt.__version__, device_label(device), "fp16" if fp16 else "fp32", repr(shapes)])
    return onnx_file.with_name(f"{onnx_file.stem}.{hashlib.sha256(key.encode()).hexdigest()[:16]}.engine")


def build_engine(onnx_file: Path, fp16: bool, shapes: tuple[Shape, Shape, Shape]) -> bytes:
    """Build a serialized engine with one optimisation profile spanning the batch sizes
    used (min, opt, max shapes). In fp16, normalisation layers are kept in fp32:
    InstanceNorm's variance over a whole feature map overflows or loses its precision in
    half floats, which shows as blotches in the output."""
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch (the only mode in TensorRT 10)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_file.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT cannot parse {onnx_file.name}: {errors}")
    config = builder.create_builder_config()
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
        for i in range(network.num_layers):
            layer = network.get_layer(i)
            if layer.type == trt.LayerType.NORMALIZATION:
                layer.precision = trt.float32
                for j in range(layer.num_outputs):
                    layer.set_output_type(j, trt.float32)
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, *shapes)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(f"TensorRT could not build an engine from {onnx_file.name} (run with -vv for its log)")
    return bytes(serialized)


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, onnx_file: Path, device: torch.device, fp16: bool, batch_sizes: tuple[int, ...], image_size):
        trt = import_tensorrt()  # a CUDA device: runtime.check_choice refuses others
        self.device = device
        self.precision = "fp16" if fp16 else "fp32"
        self._version = trt.__version__
        height, width = image_size
        largest = max(batch_sizes)
        shapes = ((1, 3, height, width), (largest, 3, height, width), (largest, 3, height, width))
        path = engine_path(onnx_file, device, fp16, shapes)
        if not path.is_file():
            log.info("building TensorRT engine %s (once; this takes a while)", path.name)
            with torch.cuda.device(device):
                atomic_write_bytes(path, build_engine(onnx_file, fp16, shapes))
        self.engine_file = path
        with torch.cuda.device(device):
            self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(path.read_bytes())
            if self.engine is None:
                raise ModelError(f"cannot load the TensorRT engine {path} (delete it to rebuild)")
            self.context = self.engine.create_execution_context()
        self.max_batch = largest
        self.fixed_size = (height, width)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > self.max_batch or tuple(x.shape[2:]) != self.fixed_size:
            raise ConfigError(
                f"the TensorRT engine takes up to {self.max_batch} images of {self.fixed_size[0]}x{self.fixed_size[1]}, "
                f"got {tuple(x.shape)}"
            )
        x = x.detach().to(self.device, torch.float32).contiguous()
        self.context.set_input_shape(INPUT_NAME, tuple(x.shape))
        out = torch.empty(tuple(self.context.get_tensor_shape(OUTPUT_NAME)), dtype=torch.float32, device=self.device)
        self.context.set_tensor_address(INPUT_NAME, x.data_ptr())
        self.context.set_tensor_address(OUTPUT_NAME, out.data_ptr())
        # enqueue on torch's current stream, so whatever torch does with `out` next waits for it
        if not self.context.execute_async_v3(torch.cuda.current_stream(self.device).cuda_stream):
            raise ModelError("TensorRT failed to run the engine")
        return out

    @property
    def signature(self) -> str:
        return f"{super().signature}|tensorrt {self._version}|{self.engine_file.name}"
