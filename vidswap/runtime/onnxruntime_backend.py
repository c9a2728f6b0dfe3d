"""ONNX Runtime backend: CPU, or CUDA with onnxruntime-gpu."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidswap.errors import BackendUnavailable, ConfigError, MissingDependency, ModelError
from vidswap.runtime.base import Backend, BackendRequest
from vidswap.runtime.export import INPUT_NAME, OUTPUT_NAME, exported_onnx


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependency("onnxruntime", "the onnx backend", extra="onnx") from None
    return onnxruntime


class OnnxRuntimeBackend(Backend):
    """Runs an exported generator with ONNX Runtime. On CPU tensors cross as numpy views
    (no copy); on CUDA the input is bound straight from the torch tensor's memory."""

    name = "onnx"
    auto_on = ("cpu",)  # no start-up cost, and 1.3-3.4x eager torch (docs/bench_runtime.md)

    @classmethod
    def available(cls) -> bool:
        try:
            import_onnxruntime()
        except MissingDependency:
            return False
        return True

    @classmethod
    def check(cls, device: torch.device, fp16: bool) -> None:
        if fp16:
            raise ConfigError("the onnx backend runs in fp32 only: drop --fp16, or use --backend tensorrt or torch")
        ort = import_onnxruntime()
        if device.type == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
            raise MissingDependency("onnxruntime-gpu", "the onnx backend on a GPU")

    @classmethod
    def create(cls, request: BackendRequest) -> OnnxRuntimeBackend:
        return cls(exported_onnx(request), request.device)

    def __init__(self, onnx_file: Path, device: torch.device):
        ort = import_onnxruntime()
        self.device = device
        if device.type == "cuda":
            providers = [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ORT would start a thread a core in every process; a batch worker gets its share of
        # the cores as torch's thread count (vidswap.pipeline.runners.use_cores)
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(onnx_file), options, providers=providers)
        except Exception as exc:  # noqa: BLE001 (ORT's own classes: Fail, InvalidGraph, InvalidProtobuf, ...)
            line = " ".join(str(exc).split()).split(" failed:", 1)[-1].strip()  # ORT repeats the path first
            raise ModelError(f"{onnx_file} is damaged: ONNX Runtime cannot load it ({line}); delete it to export "
                             "the model again") from None  # fmt: skip
        if device.type == "cuda" and "CUDAExecutionProvider" not in self.session.get_providers():
            # ORT logs the failed library load and runs on its CPU provider: binding CUDA memory to that is wrong
            raise BackendUnavailable(
                "ONNX Runtime could not start its CUDA provider (its CUDA or cuDNN libraries failed to load; "
                "run with -vv for its log) and would run on the CPU"
            )
        height, width = self.session.get_inputs()[0].shape[2:]
        # a network exported with a fixed size (see export.py) takes nothing else
        self.fixed_size = (height, width) if isinstance(height, int) and isinstance(width, int) else None
        self._version = ort.__version__
        self._output_shapes: dict[tuple[int, ...], tuple[int, ...]] = {}  # CUDA: input shape -> output shape

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed_size and tuple(x.shape[2:]) != self.fixed_size:
            raise ModelError(
                f"this model's ONNX export takes {self.fixed_size[0]}x{self.fixed_size[1]} images only, "
                f"got {x.shape[2]}x{x.shape[3]}"
            )
        if self.device.type == "cuda":
            return self._run_cuda(x)
        inputs = {INPUT_NAME: x.detach().to("cpu", torch.float32).contiguous().numpy()}
        return torch.from_numpy(self.session.run([OUTPUT_NAME], inputs)[0])

    def _run_cuda(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().to(self.device, torch.float32).contiguous()
        binding = self.session.io_binding()
        index = self.device.index or 0
        binding.bind_input(INPUT_NAME, "cuda", index, np.float32, tuple(x.shape), x.data_ptr())
        out_shape = self._output_shapes.get(tuple(x.shape))
        if out_shape is None:
            # first batch of this shape: let ONNX Runtime allocate and tell us the size
            binding.bind_output(OUTPUT_NAME, "cuda", index)
            torch.cuda.current_stream(self.device).synchronize()
            self.session.run_with_iobinding(binding)
            out = torch.from_numpy(binding.copy_outputs_to_cpu()[0]).to(self.device)
            self._output_shapes[tuple(x.shape)] = tuple(out.shape)
            return out
        out = torch.empty(out_shape, dtype=torch.float32, device=self.device)
        binding.bind_output(OUTPUT_NAME, "cuda", index, np.float32, out_shape, out.data_ptr())
        torch.cuda.current_stream(self.device).synchronize()  # x is written on torch's stream
        self.session.run_with_iobinding(binding)  # synchronous: `out` is ready on return
        return out

    @property
    def signature(self) -> str:
        return f"{super().signature}|onnxruntime {self._version}"
