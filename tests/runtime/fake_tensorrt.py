"""Fake `tensorrt` modules, one for TensorRT 10.x and one for 11.x, for machines without a
GPU. Each exposes the Python API surface vidswap's TensorRT backend uses, with that
version's names only (a name the version lacks raises AttributeError, as the real module
does), and enforces what the real library enforces on it.

Sources checked (search tool, 2026-12-01):
- TensorRT Python API "Builder" (docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api/infer/Core/
  Builder.html): NetworkDefinitionCreationFlag.STRONGLY_TYPED, passed as `1 << int(flag)` to create_network;
  EXPLICIT_BATCH deprecated and ignored in 10.x; platform_has_fast_fp16.
- "Removed Python APIs and Replacements", 10.x to 11.x (docs.nvidia.com/deeplearning/tensorrt/latest/api/
  migration/tensorrt-10x-to-11x-python-api-reference.html, and 11.4.0's): BuilderFlag.FP16, INT8, FP8, BF16,
  INT4, FP4, OBEY_PRECISION_CONSTRAINTS, PREFER_PRECISION_CONSTRAINTS, DIRECT_IO removed; the C++ list also
  removes IBuilder::platformHasFastFp16. TensorRT 11.0.0 release notes: networks are strongly typed by default,
  weak typing is gone. (STRICT_TYPES was already removed in 10.0: neither fake has it. Whether 11.x keeps the
  ignored EXPLICIT_BATCH member was not confirmed, so the 11.x fake leaves it out; vidswap does not use it.)
- "Migrating from Weak Typing to Strong Typing" (…/tensorrt-10x-to-11x-python-api-patterns.html): Logger,
  Builder, create_network, OnnxParser(network, logger).parse(bytes), create_builder_config,
  build_serialized_network.
- "Optimizing Builder Performance" (10.16.1) and ITimingCache (python_api/infer/Core/TimingCache.html):
  create_timing_cache(buffer; empty = new cache), set_timing_cache(cache, ignore_mismatch) -> bool,
  serialize(). A cache carries a verification header: one from another TensorRT version is refused, one from
  another device too unless ignore_mismatch (ITimingCache.combine's documented rule; set_timing_cache
  returns False and sets nothing).
- ICudaEngine / IExecutionContext (python_api/infer/Core/Engine.html, ExecutionContext.html): num_io_tensors,
  get_tensor_name, get_tensor_mode (TensorIOMode), get_tensor_dtype, get_tensor_profile_shape,
  create_execution_context, set_input_shape (False outside the profile), get_tensor_shape,
  set_tensor_address, execute_async_v3(stream_handle) (False when an address or shape is missing).

What it does instead of a GPU: a "plan" is the ONNX graph plus its profile and IO types;
execution runs the graph with ONNX Runtime on CPU, reading and writing the memory at the
addresses it was given (the fake CUDA in fake_cuda.py keeps "device" tensors in host
memory). Every call that matters is appended to `module.calls` with the CUDA device that
was current, so tests can check device and stream handling.
"""

from __future__ import annotations

import ctypes
import enum
import hashlib
import json
import types

import numpy as np
import onnx
import onnxruntime
import torch

VERSIONS = {10: "10.13.3", 11: "11.4.0"}
# members of BuilderFlag in 10.x that 11.x removed (weak typing and implicit quantization)
REMOVED_IN_11 = ["FP16", "INT8", "FP8", "BF16", "INT4", "FP4", "OBEY_PRECISION_CONSTRAINTS",
                 "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO"]  # fmt: skip
KEPT_FLAGS = ["DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32", "SPARSE_WEIGHTS", "SAFETY_SCOPE",
              "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "ERROR_ON_TIMING_CACHE_MISS", "STRIP_PLAN"]  # fmt: skip
PLAN_MAGIC, CACHE_MAGIC = b"FAKEPLAN\n", b"FAKECACHE\n"
ONNX_TYPES = {onnx.TensorProto.FLOAT: "FLOAT", onnx.TensorProto.FLOAT16: "HALF"}
NUMPY_TYPES = {"FLOAT": np.float32, "HALF": np.float16}


def make_tensorrt(major: int) -> types.ModuleType:
    """A fresh fake `tensorrt` module of TensorRT `major` (10 or 11)."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = VERSIONS[major]
    trt.calls = []
    creation_flags = ["STRONGLY_TYPED"] if major >= 11 else ["EXPLICIT_BATCH", "STRONGLY_TYPED"]
    trt.NetworkDefinitionCreationFlag = enum.IntEnum("NetworkDefinitionCreationFlag", creation_flags, start=0)
    builder_flags = KEPT_FLAGS if major >= 11 else KEPT_FLAGS + REMOVED_IN_11
    trt.BuilderFlag = enum.IntEnum("BuilderFlag", builder_flags, start=0)
    trt.DataType = enum.IntEnum("DataType", ["FLOAT", "HALF", "INT8", "INT32", "BOOL"], start=0)
    trt.TensorIOMode = enum.IntEnum("TensorIOMode", ["NONE", "INPUT", "OUTPUT"], start=0)

    def current_device() -> int:
        return torch.cuda.current_device()  # the fake CUDA's, in tests

    def this_device() -> dict:
        return {"version": trt.__version__, "device": torch.cuda.get_device_name(current_device())}

    class Logger:
        VERBOSE, INFO, WARNING, ERROR, INTERNAL_ERROR = 4, 3, 2, 1, 0

        def __init__(self, min_severity: int = 2):
            self.min_severity = min_severity

    class INetworkDefinition:
        def __init__(self, flags: int):
            strongly_typed_flag = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
            self.strongly_typed = major >= 11 or bool(flags & strongly_typed_flag)  # 11.x: always
            self.graph: onnx.ModelProto | None = None

    class OnnxParser:
        def __init__(self, network: INetworkDefinition, logger: Logger):
            self.network, self.errors = network, []

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, index: int) -> str:
            return self.errors[index]

        def parse(self, model: bytes) -> bool:
            try:
                self.network.graph = onnx.load_from_string(model)
            except Exception as exc:  # noqa: BLE001
                self.errors.append(f"ModelImporter: failed to parse: {exc}")
                return False
            return True

    class ITimingCache:
        """Entries plus the verification header (TensorRT version, device) they were timed under."""

        def __init__(self, entries: list[str], header: dict | None = None):
            self.entries = entries
            self.header = header or this_device()

        def serialize(self) -> bytes:
            return CACHE_MAGIC + json.dumps(self.header | {"entries": self.entries}).encode()

    class IOptimizationProfile:
        def __init__(self):
            self.shapes: dict[str, tuple] = {}

        def set_shape(self, name: str, min, opt, max) -> None:  # noqa: A002 (the real keyword names)
            self.shapes[name] = (tuple(min), tuple(opt), tuple(max))

    class IBuilderConfig:
        def __init__(self):
            self.flags: set = set()
            self.profiles: list[IOptimizationProfile] = []
            self.timing_cache: ITimingCache | None = None

        def set_flag(self, flag) -> None:
            self.flags.add(flag)

        def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def create_timing_cache(self, serialized: bytes) -> ITimingCache:
            if not serialized:
                return ITimingCache([])
            saved = json.loads(bytes(serialized)[len(CACHE_MAGIC) :])
            return ITimingCache(saved.pop("entries"), saved)

        def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
            """False, and no cache set, for a cache timed by another TensorRT, or on another
            device unless ignore_mismatch (ITimingCache.combine's rule, which the docs give)."""
            mine = this_device()
            if cache.header["version"] != mine["version"] or (cache.header != mine and not ignore_mismatch):
                return False
            self.timing_cache = cache
            return True

    class Builder:
        def __init__(self, logger: Logger):
            self.logger = logger

        def create_network(self, flags: int = 0) -> INetworkDefinition:
            return INetworkDefinition(flags)

        def create_builder_config(self) -> IBuilderConfig:
            return IBuilderConfig()

        def create_optimization_profile(self) -> IOptimizationProfile:
            return IOptimizationProfile()

        def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig):
            """The plan, or None (the real builder logs the reason and returns None)."""
            graph = network.graph
            weak_flags = {flag.name for flag in config.flags if flag.name in REMOVED_IN_11}
            if graph is None or (network.strongly_typed and weak_flags) or len(config.profiles) != 1:
                return None
            (graph_input,), (graph_output,) = graph.graph.input, graph.graph.output
            shapes = config.profiles[0].shapes.get(graph_input.name)
            if shapes is None or not all(a <= b <= c for lo, op, hi in [shapes] for a, b, c in zip(lo, op, hi)):
                return None
            dims = [d.dim_value or None for d in graph_input.type.tensor_type.shape.dim]
            if any(fixed and any(shape[i] != fixed for shape in shapes) for i, fixed in enumerate(dims)):
                return None  # a profile that disagrees with a fixed dimension
            io = {v.name: ONNX_TYPES[v.type.tensor_type.elem_type] for v in (graph_input, graph_output)}
            if not network.strongly_typed and weak_flags & {"FP16"}:
                io = dict.fromkeys(io, "FLOAT")  # weak typing: IO stays fp32 whatever the layers run in
            key = hashlib.sha256(graph.SerializeToString()).hexdigest()
            cache = config.timing_cache
            trt.calls.append(("build", current_device(), network.strongly_typed, sorted(weak_flags),
                              key in cache.entries if cache else False))  # fmt: skip
            if cache is not None and key not in cache.entries:
                cache.entries.append(key)
            header = {"version": trt.__version__, "io": io, "input": graph_input.name, "profile": shapes}
            return PLAN_MAGIC + json.dumps(header).encode() + b"\n" + graph.SerializeToString()

    class ICudaEngine:
        def __init__(self, header: dict, graph: bytes):
            self.io = header["io"]
            self.input_name = header["input"]
            self.profile = [tuple(shape) for shape in header["profile"]]
            self.session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])

        @property
        def num_io_tensors(self) -> int:
            return len(self.io)

        def get_tensor_name(self, index: int) -> str:
            return list(self.io)[index]

        def get_tensor_mode(self, name: str):
            if name not in self.io:
                return trt.TensorIOMode.NONE
            return trt.TensorIOMode.INPUT if name == self.input_name else trt.TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name: str):
            return getattr(trt.DataType, self.io[name])

        def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[tuple]:
            if name != self.input_name or profile_index != 0:
                raise RuntimeError(f"no profile shape for {name!r} in profile {profile_index}")
            return list(self.profile)

        def create_execution_context(self) -> IExecutionContext:
            return IExecutionContext(self)

    class IExecutionContext:
        def __init__(self, engine: ICudaEngine):
            self.engine = engine
            self.shapes: dict[str, tuple] = {}
            self.addresses: dict[str, int] = {}

        def set_input_shape(self, name: str, shape) -> bool:
            low, _, high = self.engine.profile
            shape = tuple(shape)
            if name != self.engine.input_name or len(shape) != len(low):
                return False
            if not all(a <= s <= b for a, s, b in zip(low, shape, high)):
                return False  # the real one logs "... is out of the profile's bounds" and refuses
            self.shapes[name] = shape
            output = self._infer(np.zeros(shape, NUMPY_TYPES[self.engine.io[name]]))
            self.shapes.update((n, tuple(o.shape)) for n, o in output.items())
            return True

        def get_tensor_shape(self, name: str) -> tuple:
            return self.shapes.get(name, (-1, -1, -1, -1))

        def set_tensor_address(self, name: str, memory: int) -> bool:
            if name not in self.engine.io:
                return False
            self.addresses[name] = int(memory)
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            input_name = self.engine.input_name
            if set(self.addresses) != set(self.engine.io) or input_name not in self.shapes:
                return False  # every IO tensor needs an address, and the input its shape
            trt.calls.append(("execute", current_device(), stream_handle, self.shapes[input_name]))
            x = _read(self.addresses[input_name], self.shapes[input_name], NUMPY_TYPES[self.engine.io[input_name]])
            for name, value in self._infer(x).items():
                value = value.astype(NUMPY_TYPES[self.engine.io[name]])
                assert value.shape == self.shapes[name]
                ctypes.memmove(self.addresses[name], value.ctypes.data, value.nbytes)
            return True

        def _infer(self, x: np.ndarray) -> dict[str, np.ndarray]:
            session = self.engine.session
            names = [o.name for o in session.get_outputs()]
            return dict(zip(names, session.run(names, {self.engine.input_name: x})))

    class Runtime:
        def __init__(self, logger: Logger):
            self.logger = logger

        def deserialize_cuda_engine(self, plan: bytes) -> ICudaEngine | None:
            plan = bytes(plan)
            if not plan.startswith(PLAN_MAGIC):
                return None
            header, graph = plan[len(PLAN_MAGIC) :].split(b"\n", 1)
            header = json.loads(header)
            if header["version"] != trt.__version__:
                return None  # a plan is only valid for the TensorRT version that built it
            trt.calls.append(("deserialize", current_device()))
            return ICudaEngine(header, graph)

    for cls in (Logger, Builder, OnnxParser, Runtime):
        setattr(trt, cls.__name__, cls)
    if major < 11:
        Builder.platform_has_fast_fp16 = property(lambda self: True)
    return trt


def _read(address: int, shape: tuple, dtype) -> np.ndarray:
    count = int(np.prod(shape))
    return np.frombuffer(ctypes.string_at(address, count * np.dtype(dtype).itemsize), dtype).reshape(shape)
