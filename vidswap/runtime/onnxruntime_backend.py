"""ONNX Runtime backend: CPU, or CUDA with onnxruntime-gpu."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidswap.errors import BackendUnavailable, ConfigError, MissingDependency, ModelError
from vidswap.nets.held_norm import HeldNorms, check_scene_flags
from vidswap.runtime.base import Backend, BackendRequest
from vidswap.runtime.export import HISTORY_NAME, INPUT_NAME, NEW_STATE_NAME, OUTPUT_NAME, STATE_NAME, exported_onnx


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
    holds_statistics = True  # HeldOnnxRuntimeBackend

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
        if isinstance(request.generator, HeldNorms):
            return HeldOnnxRuntimeBackend(exported_onnx(request), request.device, request.generator.hold)
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

    def _check_size(self, x: torch.Tensor) -> None:
        if self.fixed_size and tuple(x.shape[2:]) != self.fixed_size:
            raise ModelError(
                f"this model's ONNX export takes {self.fixed_size[0]}x{self.fixed_size[1]} images only, "
                f"got {x.shape[2]}x{x.shape[3]}"
            )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self._check_size(x)
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


class HeldOnnxRuntimeBackend(OnnxRuntimeBackend):
    """A HeldNorms generator in ONNX Runtime: its HeldStep graph run a frame at a time, the
    held statistics it returns fed back with the next frame (as HeldNorms does in torch).
    Frames cross through the host on CUDA too (batch 1 a call)."""

    def __init__(self, onnx_file: Path, device: torch.device, hold: float):
        super().__init__(onnx_file, device)
        self.hold = hold
        self._empty = np.zeros(self.session.get_inputs()[2].shape, np.float32)
        self._state: np.ndarray | None = None  # the clip's held statistics so far
        self._starts: list[bool] | None = None

    def restart(self, starts) -> None:
        self._starts = list(starts)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self._check_size(x)
        starts, self._starts = self._starts, None
        check_scene_flags(starts, x.shape[0])
        frames = x.detach().to("cpu", torch.float32).contiguous().numpy()
        outputs = []
        for n, frame in enumerate(frames):
            # unrelated images (no restart) and a scene's first frame take their own statistics
            follows = starts is not None and not starts[n] and self._state is not None
            inputs = {
                INPUT_NAME: frame[None],
                HISTORY_NAME: np.array(self.hold if follows else 0.0, np.float32),
                STATE_NAME: self._state if follows else self._empty,
            }
            out, state = self.session.run([OUTPUT_NAME, NEW_STATE_NAME], inputs)
            if starts is not None:
                self._state = state
            outputs.append(out)
        return torch.from_numpy(np.concatenate(outputs)).to(self.device)
