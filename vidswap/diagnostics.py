"""What this machine can do for vidswap, and why not: the facts `vidswap doctor` reports.

Gathering touches the machine (torch, the NVIDIA driver, optional packages); deciding
what to tell the user (`torch_install_command`, `advice`) is plain functions of given
facts, so the "driver older than torch's CUDA build" logic is tested without a GPU.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.metadata
import platform
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import asdict, dataclass, field

Version = tuple[int, int]

# CUDA builds with a PyTorch wheel index (https://download.pytorch.org/whl/cuXYZ), oldest first
PYTORCH_CUDA_BUILDS: tuple[Version, ...] = ((11, 8), (12, 6), (12, 8), (12, 9), (13, 0))
ENCODERS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "libaom-av1", "h264_nvenc", "hevc_nvenc", "av1_nvenc")
GPU_USES = (
    "`vidswap train` (CUDA, bf16/fp16 mixed precision, several GPUs over NCCL with torchrun), "
    "`vidswap apply`/`batch` (--backend torch, compile, onnx with onnxruntime-gpu, tensorrt; --fp16) "
    "and MTCNN face detection"
)


@dataclass
class Gpu:
    index: int
    name: str
    memory_gib: float
    capability: str  # compute capability, "9.0" for Hopper
    bf16: bool
    allocates: bool  # torch really allocated and computed on it
    error: str | None = None  # why it did not


@dataclass
class Facts:
    python: str
    platform: str
    torch: str | None
    torch_cuda: str | None  # CUDA version torch was built for; None: a CPU-only build
    driver_cuda: str | None  # newest CUDA the installed NVIDIA driver supports; None: no driver found
    cuda_error: str | None  # why torch sees no GPU, when it says
    gpus: list[Gpu] = field(default_factory=list)
    tensorrt: str | None = None  # version
    tensorrt_error: str | None = None  # installed but not importable
    onnxruntime: str | None = None
    onnxruntime_providers: list[str] = field(default_factory=list)
    decord: str | None = None
    ray: str | None = None
    pyav: str | None = None
    ffmpeg: str | None = None
    encoders: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self) | {"advice": advice(self)}


def parse_cuda_version(value: str | int | None) -> Version | None:
    """12080 (the driver API's integer), "12.8" or "13.0.96" -> (major, minor)."""
    if value is None:
        return None
    if isinstance(value, int):
        return (value // 1000, value % 1000 // 10)
    match = re.match(r"(\d+)\.(\d+)", value)
    return (int(match[1]), int(match[2])) if match else None


def format_version(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def matching_cuda_build(driver: Version) -> Version | None:
    """The PyTorch CUDA build a driver runs best: the newest of its CUDA major that is not
    newer than the driver, else the oldest of its major (CUDA's minor-version compatibility
    runs 12.x builds on any 12 driver), else the newest older one; None if none fits."""
    same_major = [b for b in PYTORCH_CUDA_BUILDS if b[0] == driver[0]]
    if same_major:
        fitting = [b for b in same_major if b <= driver]
        return max(fitting) if fitting else min(same_major)
    older = [b for b in PYTORCH_CUDA_BUILDS if b < driver]
    return max(older) if older else None


def torch_install_command(torch_cuda: Version | None, driver: Version | None) -> str | None:
    """The command that installs a torch this driver runs, when the installed one is built
    for a newer CUDA than the driver supports, or for none while a driver is present;
    None when torch already matches, or there is no driver to match."""
    if driver is None or (torch_cuda is not None and torch_cuda <= driver):
        return None
    build = matching_cuda_build(driver)
    if build is None or build == torch_cuda:
        return None
    index = f"https://download.pytorch.org/whl/cu{build[0]}{build[1]}"
    return f"pip install --force-reinstall torch torchvision --index-url {index}"


def advice(facts: Facts) -> list[str]:
    """What the user should know or do, one sentence each, most important first."""
    torch_cuda = parse_cuda_version(facts.torch_cuda)
    driver = parse_cuda_version(facts.driver_cuda)
    lines = []
    usable = [g for g in facts.gpus if g.allocates]
    if not usable:
        if driver is None:
            reason = "no NVIDIA driver was found"
        elif facts.gpus:
            reason = f"torch cannot allocate on it ({facts.gpus[0].error})"
        elif torch_cuda is None:
            reason = f"torch {facts.torch} is a CPU-only build"
        else:
            reason = facts.cuda_error or "torch sees no CUDA device"
        lines.append(
            f"No usable GPU: {reason.rstrip('.')}. "
            f"Everything runs on the CPU (slowly); a GPU would be used by {GPU_USES}."
        )
    command = torch_install_command(torch_cuda, driver)
    if command:
        built = f"built for CUDA {facts.torch_cuda}" if torch_cuda else "built without CUDA"
        lines.append(
            f"torch {facts.torch} is {built}, but the driver supports CUDA {facts.driver_cuda}: "
            f"install a matching torch with `{command}`, or update the NVIDIA driver."
        )
    elif driver is not None and torch_cuda is not None and not usable and matching_cuda_build(driver) is None:
        lines.append(f"The driver's CUDA {facts.driver_cuda} is older than any PyTorch build: update the driver.")
    if usable:
        if facts.tensorrt_error:
            lines.append(f"TensorRT is installed but does not load: {facts.tensorrt_error}.")
        elif facts.tensorrt is None:
            cuda = torch_cuda[0] if torch_cuda else 12  # TensorRT's CUDA must be torch's
            lines.append(
                f"TensorRT is not installed (--backend tensorrt): `pip install tensorrt-cu{cuda}` (TensorRT 11) "
                f"or `pip install tensorrt-cu{cuda}==10.16.*` (TensorRT 10)."
            )
        if facts.onnxruntime and "CUDAExecutionProvider" not in facts.onnxruntime_providers:
            lines.append("ONNX Runtime has no CUDA provider (--backend onnx on a GPU): `pip install onnxruntime-gpu`.")
        if not all(g.bf16 for g in usable):
            lines.append("A GPU without bf16 (before Ampere): train with `--set train.amp=fp16` or off.")
    return lines


def driver_cuda_version() -> Version | None:
    """The newest CUDA version the NVIDIA driver supports: from the driver API
    (libcuda's cuDriverGetVersion, no GPU context needed), else from nvidia-smi."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1" if sys.platform != "win32" else "nvcuda.dll")
        version = ctypes.c_int(0)
        if libcuda.cuDriverGetVersion(ctypes.byref(version)) == 0 and version.value:
            return parse_cuda_version(version.value)
    except (OSError, AttributeError):
        pass
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"CUDA Version:\s*(\d+\.\d+)", out)
    return parse_cuda_version(match[1]) if match else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _gpu(torch, index: int) -> Gpu:
    props = torch.cuda.get_device_properties(index)
    capability = (props.major, props.minor)
    try:
        value = torch.ones(1024, device=f"cuda:{index}").sum().item()
        allocates, error = value == 1024, None
    except Exception as exc:  # noqa: BLE001 (the driver and CUDA libraries raise many kinds)
        allocates, error = False, _first_line(exc)
    return Gpu(
        index=index,
        name=props.name,
        memory_gib=round(props.total_memory / 2**30, 1),
        capability=f"{capability[0]}.{capability[1]}",
        bf16=capability >= (8, 0),
        allocates=allocates,
        error=error,
    )


def _torch_facts() -> tuple[str | None, str | None, str | None, list[Gpu]]:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 (a broken install raises more than ImportError)
        return None, None, _first_line(exc), []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    cuda_error = next((str(w.message).splitlines()[0] for w in caught), None)
    gpus = [_gpu(torch, i) for i in range(torch.cuda.device_count())] if available else []
    return torch.__version__, torch.version.cuda, cuda_error, gpus


def _import_version(module: str) -> tuple[str | None, str | None]:
    """(version, None) when importable; (None, error line) when installed but broken;
    (None, None) when absent."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        return None, None if exc.name == module else _first_line(exc)
    except Exception as exc:  # noqa: BLE001 (a stub package or missing CUDA library)
        return None, _first_line(exc)
    return getattr(mod, "__version__", "unknown"), None


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _video_facts() -> tuple[str | None, str | None, list[str]]:
    try:
        import av
    except ImportError:
        return None, None, []
    present = []
    for name in ENCODERS:
        try:
            av.codec.Codec(name, "w")
        except Exception:  # noqa: BLE001 (UnknownCodecError: not in this FFmpeg build)
            continue
        present.append(name)
    libavcodec = av.library_versions.get("libavcodec")
    ffmpeg = getattr(av, "ffmpeg_version_info", None) or (".".join(map(str, libavcodec)) if libavcodec else None)
    return av.__version__, ffmpeg, present


def gather() -> Facts:
    """Every fact about this machine that `vidswap doctor` reports."""
    torch_version, torch_cuda, cuda_error, gpus = _torch_facts()
    driver = driver_cuda_version()
    tensorrt, tensorrt_error = _import_version("tensorrt")
    onnxruntime, _ = _import_version("onnxruntime")
    providers = sys.modules["onnxruntime"].get_available_providers() if onnxruntime else []
    decord, _ = _import_version("decord")
    pyav, ffmpeg, encoders = _video_facts()
    return Facts(
        python=f"{platform.python_version()} ({sys.executable})",
        platform=f"{platform.system()} {platform.machine()}",
        torch=torch_version,
        torch_cuda=torch_cuda,
        driver_cuda=format_version(driver) if driver else None,
        cuda_error=cuda_error,
        gpus=gpus,
        tensorrt=tensorrt,
        tensorrt_error=tensorrt_error,
        onnxruntime=onnxruntime,
        onnxruntime_providers=providers,
        decord=decord,
        ray=_distribution_version("ray"),  # importing ray takes seconds; its presence is enough
        pyav=pyav,
        ffmpeg=ffmpeg,
        encoders=encoders,
    )
