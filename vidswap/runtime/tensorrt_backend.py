"""TensorRT backend: engines built from the exported ONNX file with the TensorRT Python
API, cached in the model folder. TensorRT is not a declared dependency (its wheels come
from NVIDIA and need a CUDA GPU): it is imported only here, when asked for.

One code path for TensorRT 10 and 11: networks are strongly typed (11 removed the
weak-typing builder flags such as BuilderFlag.FP16), so fp16 is an fp16 ONNX graph
(export.ensure_fp16_onnx) with fp32 inputs, outputs and normalisation.

An engine is valid for one graph, TensorRT version and GPU model (its build key) and for
the input shapes of its optimisation profile. Engines are kept as
`<graph>.<build key>.<profile>.engine`; one whose profile covers the shape asked for is
loaded, otherwise one is built (minutes, once) with the help of a timing cache kept in
the model folder. A batch larger than the engine's is run in chunks; a frame size that no
engine covers gets an engine of its own.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from vidswap.errors import ConfigError, MissingDependency, ModelError
from vidswap.fsutil import atomic_write_bytes
from vidswap.runtime.base import Backend, BackendRequest, Size, device_label
from vidswap.runtime.export import INPUT_NAME, OUTPUT_NAME, ensure_fp16_onnx, exported_onnx

log = logging.getLogger(__name__)

Shape = tuple[int, int, int, int]


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


@dataclass(frozen=True)
class Profile:
    """A TensorRT optimisation profile: batches of 1 to max_batch images, each between
    min_size and max_size, tuned for opt_size."""

    min_size: Size
    opt_size: Size
    max_size: Size
    max_batch: int

    @classmethod
    def single(cls, size: Size, max_batch: int) -> Profile:
        return cls(size, size, size, max_batch)

    @classmethod
    def from_shapes(cls, shapes) -> Profile:
        """From TensorRT's (min, opt, max) input shapes."""
        low, opt, high = (tuple(shape) for shape in shapes)
        return cls(tuple(low[2:]), tuple(opt[2:]), tuple(high[2:]), high[0])

    def shapes(self) -> tuple[Shape, Shape, Shape]:
        return (1, 3, *self.min_size), (self.max_batch, 3, *self.opt_size), (self.max_batch, 3, *self.max_size)

    def covers(self, size: Size) -> bool:
        return all(low <= s <= high for low, s, high in zip(self.min_size, size, self.max_size))

    def contains(self, other: Profile) -> bool:
        return self.covers(other.min_size) and self.covers(other.max_size) and self.max_batch >= other.max_batch

    @property
    def label(self) -> str:
        sizes = "_".join(f"{h}x{w}" for h, w in (self.min_size, self.opt_size, self.max_size))
        return f"b{self.max_batch}_{sizes}"

    @classmethod
    def from_label(cls, label: str) -> Profile | None:
        match = re.fullmatch(r"b(\d+)_(\d+)x(\d+)_(\d+)x(\d+)_(\d+)x(\d+)", label)
        if not match:
            return None
        n = [int(v) for v in match.groups()]
        return cls((n[1], n[2]), (n[3], n[4]), (n[5], n[6]), n[0])


def _hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def build_engine(trt, graph: Path, profile: Profile, timing_cache: Path) -> bytes:
    """A serialized engine for `graph` with one optimisation profile, strongly typed. The
    timing cache file is loaded when present and saved after the build."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(graph.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT cannot parse {graph.name}: {errors}")
    config = builder.create_builder_config()
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    # ignore_mismatch=False: a cache timed by another TensorRT or GPU is refused; a new one replaces it
    if not config.set_timing_cache(cache, False):
        log.info("the TensorRT timing cache %s was made by another TensorRT or GPU: starting a new one", timing_cache)
        cache = config.create_timing_cache(b"")
        if not config.set_timing_cache(cache, False):
            raise ModelError("TensorRT refuses a new, empty timing cache")
    shapes = builder.create_optimization_profile()
    shapes.set_shape(INPUT_NAME, *profile.shapes())
    config.add_optimization_profile(shapes)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(f"TensorRT could not build an engine from {graph.name} (run with -vv for its log)")
    try:
        atomic_write_bytes(timing_cache, bytes(cache.serialize()))
    except OSError as exc:  # a read-only model store: the next build times again
        log.info("cannot save the TensorRT timing cache %s: %s", timing_cache, exc)
    return bytes(serialized)


@dataclass
class _Engine:
    profile: Profile
    file: Path
    engine: object
    context: object
    input_dtype: torch.dtype
    output_dtype: torch.dtype


class TensorRTBackend(Backend):
    name = "tensorrt"
    auto_on = ("cuda",)

    @classmethod
    def available(cls) -> bool:
        return tensorrt_available()

    @classmethod
    def check(cls, device: torch.device, fp16: bool) -> None:
        import_tensorrt()
        if device.type != "cuda":
            raise ConfigError("the tensorrt backend needs a CUDA GPU")
        if fp16:
            try:
                import onnxconverter_common  # noqa: F401 (makes the fp16 graph)
            except ImportError:
                raise MissingDependency(
                    "onnxconverter-common", "--fp16 with the tensorrt backend", extra="onnx"
                ) from None

    @classmethod
    def create(cls, request: BackendRequest) -> TensorRTBackend:
        low, high = request.size_range or (request.image_size, request.image_size)
        profile = Profile(low, request.image_size, high, request.max_batch)
        return cls(exported_onnx(request), request.device, request.fp16, profile)

    def __init__(self, onnx_file: Path, device: torch.device, fp16: bool, profile: Profile):
        self.trt = import_tensorrt()
        self.device = device
        # TensorRT works on the current CUDA device: this one is made current around every call into it
        self.index = device.index if device.index is not None else torch.cuda.current_device()
        self.precision = "fp16" if fp16 else "fp32"
        self.graph = ensure_fp16_onnx(onnx_file) if fp16 else onnx_file
        gpu = device_label(device)
        self.build_key = _hash(hashlib.sha256(self.graph.read_bytes()).hexdigest(), self.trt.__version__, gpu)
        self.timing_cache = self.graph.parent / f"tensorrt.{_hash(self.trt.__version__, gpu)}.timing-cache"
        self.max_batch = profile.max_batch
        with torch.cuda.device(self.index):
            self.runtime = self.trt.Runtime(self.trt.Logger(self.trt.Logger.WARNING))
            self.stream = torch.cuda.Stream(device)  # not the default stream, which would serialise with all others
        self.engines: list[_Engine] = []
        self.engine_file = self._engine_for(profile).file

    def _engine_file(self, profile: Profile) -> Path:
        return self.graph.with_name(f"{self.graph.stem}.{self.build_key}.{profile.label}.engine")

    def _engine_for(self, wanted: Profile) -> _Engine:
        """A loaded engine whose profile contains `wanted`; else one from the model folder;
        else a new one."""
        for engine in self.engines:
            if engine.profile.contains(wanted):
                return engine
        on_disk = []
        for path in self.graph.parent.glob(f"{self.graph.stem}.{self.build_key}.*.engine"):
            profile = Profile.from_label(path.name.split(".")[-2])
            if profile and profile.contains(wanted):
                on_disk.append((profile.max_batch * profile.max_size[0] * profile.max_size[1], path))
        if on_disk:
            path = min(on_disk)[1]  # the tightest fit
        else:
            path = self._engine_file(wanted)
            log.warning("building a TensorRT engine for %s (once; this takes a while)", wanted.label)
            with torch.cuda.device(self.index):
                atomic_write_bytes(path, build_engine(self.trt, self.graph, wanted, self.timing_cache))
        self.engines.append(self._load(path))
        return self.engines[-1]

    def _load(self, path: Path) -> _Engine:
        trt = self.trt
        dtypes = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16}
        with torch.cuda.device(self.index):
            engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
            if engine is None:
                raise ModelError(f"{path} is damaged or made by another TensorRT: it cannot be loaded (delete it to "
                                 "build it again)")  # fmt: skip
            context = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        modes = {name: engine.get_tensor_mode(name) for name in names}
        if modes != {INPUT_NAME: trt.TensorIOMode.INPUT, OUTPUT_NAME: trt.TensorIOMode.OUTPUT}:
            raise ModelError(f"the TensorRT engine {path.name} has other inputs or outputs than the export's")
        profile = Profile.from_shapes(engine.get_tensor_profile_shape(INPUT_NAME, 0))
        io = [dtypes.get(engine.get_tensor_dtype(name)) for name in (INPUT_NAME, OUTPUT_NAME)]
        if None in io:
            raise ModelError(f"the TensorRT engine {path.name} has inputs or outputs that are not fp32 or fp16")
        return _Engine(profile, path, engine, context, *io)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        size = tuple(x.shape[2:])
        engine = next((e for e in self.engines if e.profile.covers(size)), None)
        engine = engine or self._engine_for(Profile.single(size, self.max_batch))
        caller = torch.cuda.current_stream(self.device)
        x = x.detach().to(self.device, engine.input_dtype).contiguous()
        parts = [self._run(engine, part, caller) for part in x.split(engine.profile.max_batch)]
        return (parts[0] if len(parts) == 1 else torch.cat(parts)).float()

    def _run(self, engine: _Engine, x: torch.Tensor, caller) -> torch.Tensor:
        """Run one batch the engine takes on the backend's stream; the caller's stream
        waits for the result."""
        context = engine.context
        with torch.cuda.device(self.index):
            if not context.set_input_shape(INPUT_NAME, tuple(x.shape)):
                raise ModelError(f"the TensorRT engine {engine.file.name} refuses input shape {tuple(x.shape)}")
            out_shape = tuple(context.get_tensor_shape(OUTPUT_NAME))
            out = torch.empty(out_shape, dtype=engine.output_dtype, device=self.device)
            context.set_tensor_address(INPUT_NAME, x.data_ptr())
            context.set_tensor_address(OUTPUT_NAME, out.data_ptr())
            self.stream.wait_stream(caller)  # x was written on the caller's stream
            if not context.execute_async_v3(self.stream.cuda_stream):
                raise ModelError("TensorRT failed to run the engine")
            # both were allocated on the caller's stream: not reused before this stream is done with them
            x.record_stream(self.stream)
            out.record_stream(self.stream)
            caller.wait_stream(self.stream)
        return out

    @property
    def signature(self) -> str:
        return f"{super().signature}|tensorrt {self.trt.__version__}|{self.build_key}"
