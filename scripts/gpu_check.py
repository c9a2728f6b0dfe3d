"""Every GPU path of vidswap, run once on one GPU, as a table: pass, fail (with the error's
line), skip (with the reason) or not reached (the deadline came first), and a figure where one
applies.

    PYTHONPATH=. python3 scripts/gpu_check.py --quick [--device cuda:0] [--minutes 5] [--jobs 4] [--keep DIR]
    PYTHONPATH=. python3 scripts/gpu_check.py            (the full profile: more steps, larger benchmarks)

Needs only Python, a CUDA build of torch and vidswap's dependencies installed with pip
(scripts/gpu_wheelhouse.sh gathers them for an offline machine): no uv, no internet (the
test photos ship with scikit-image and matplotlib). Each step runs the CLI (`python3 -m
vidswap.cli.main ...`) or a script as a subprocess with its own timeout, and its result is
checked inside a try, so one failure never stops the table; steps that are independent run
`--jobs` at a time, the benchmarks alone at the end. Without a GPU every row is skipped with
the reason and it exits 0; `--device cpu` runs the rows that need no CUDA on the CPU, which
checks the script itself. Exit code 1 when a row failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "vidswap.cli.main"]
METHODS = ("cyclegan", "cut", "fastcut", "acgan", "autoencoder")
BACKENDS = ("torch", "compile", "onnx", "tensorrt")
DATA = ("photos", "pyav")  # the training folders and the clip


@dataclass
class Step:
    name: str
    argv: list[str]
    timeout: float
    needs: tuple[str, ...] = ()  # names in Machine.missing: cuda, tensorrt, onnx-cuda, compile, pyav, photos
    after: str | None = None  # a step that must have passed first
    figure: str = "seconds"  # seconds | frames/s | doctor | bench
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[], str | None] | None = None  # after a pass: what is wrong with the result, or None
    output_check: Callable[[str], str | None] | None = None  # the same, read from the step's output
    fails_on_purpose: bool = False  # passes only by exiting non-zero, its output judged by output_check


@dataclass
class Row:
    name: str
    result: str  # pass | fail | skip | not reached
    figure: str = ""
    detail: str = ""
    output: str = ""


ONNXRUNTIME_CLASH = (
    "onnxruntime and onnxruntime-gpu are both installed and share one package, the CPU one won: "
    "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu"
)


def installed_distributions() -> set[str]:
    from importlib import metadata

    return {(dist.metadata["Name"] or "").lower() for dist in metadata.distributions()}


class Machine:
    """What this machine lacks, each with the reason a row that needs it is skipped."""

    def __init__(self, device: str):
        self.missing: dict[str, str] = {}
        if device.startswith("cuda") and not torch.cuda.is_available():
            built = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            self.missing["gpu"] = f"no CUDA GPU (torch {torch.__version__}, {built}; see `vidswap doctor`)"
            return
        if not device.startswith("cuda"):
            self.missing["cuda"] = "runs on a CUDA GPU only (--device cpu)"
        for module, need, reason in (
            ("av", "pyav", "PyAV is not installed (pip install av)"),
            ("skimage", "photos", "scikit-image is not installed (its astronaut photo makes the clip)"),
            ("matplotlib", "photos", "matplotlib is not installed (its grace_hopper photo makes the clip)"),
            ("tensorrt", "tensorrt", "TensorRT is not installed (pip install tensorrt)"),
        ):
            try:
                __import__(module)
            except Exception as exc:  # noqa: BLE001 (a stub tensorrt package raises more than ImportError)
                self.missing.setdefault(need, f"{reason}: {type(exc).__name__}")
        try:
            import onnxruntime

            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                self.missing["onnx-cuda"] = "ONNX Runtime has no CUDA provider (pip install onnxruntime-gpu)"
        except ImportError:
            self.missing["onnx-cuda"] = "ONNX Runtime is not installed (pip install onnxruntime-gpu)"
        if "onnx-cuda" in self.missing and {"onnxruntime", "onnxruntime-gpu"} <= installed_distributions():
            self.missing["onnx-cuda"] = ONNXRUNTIME_CLASH
        if "cuda" in self.missing:
            self.missing["tensorrt"] = self.missing["onnx-cuda"] = self.missing["cuda"]

    def why_not(self, needs: tuple[str, ...]) -> str | None:
        if "gpu" in self.missing:
            return self.missing["gpu"]
        return next((self.missing[n] for n in needs if n in self.missing), None)


def make_data(work: Path) -> tuple[Path, Path, Path]:
    """Two unpaired training folders cut from two photos, and a test clip with both faces side by side."""
    import av
    import numpy as np
    from matplotlib import cbook
    from PIL import Image
    from skimage import data

    astronaut = Image.fromarray(data.astronaut()).resize((192, 192))
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = Image.open(f).convert("RGB")
    hopper = hopper.crop((40, 0, 40 + hopper.height, hopper.height)).resize((192, 192))
    folders = []
    for name, photo in (("A", astronaut), ("B", hopper)):
        folder = work / name
        folder.mkdir()
        for i in range(6):
            x, y = 8 * i, 6 * i
            photo.crop((x, y, x + 128, y + 128)).save(folder / f"{i}.jpg")
        folders.append(folder)
    side_by_side = np.concatenate([np.asarray(astronaut), np.asarray(hopper)], axis=1)
    clip = work / "two_faces.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = side_by_side.shape[1], side_by_side.shape[0] - 16, "yuv420p"
        for i in range(12):  # a slow pan: the face tracker sees motion
            frame = np.ascontiguousarray(side_by_side[i : i + stream.height])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return folders[0], folders[1], clip


def train_label(method: str, amp: str, channels_last: bool) -> str:
    return f"train {method} amp {amp}, channels-last {'on' if channels_last else 'off'}"


def both_faces_changed(clip: Path, output: Path) -> str | None:
    """Face mode with `--faces all`: each half of the picture holds one face, so each half
    of the output must differ from the input (an engine that takes one face a batch fails)."""
    import av
    import numpy as np

    def frames(path: Path) -> np.ndarray:
        with av.open(str(path)) as container:
            return np.stack([f.to_ndarray(format="rgb24").astype(np.float32) for f in container.decode(video=0)])

    diff = np.abs(frames(clip) - frames(output))  # re-encoding alone: about 1.5 on average
    half = diff.shape[2] // 2
    changed = [float(side.mean()) > 4.0 for side in (diff[:, :, :half], diff[:, :, half:])]
    return None if all(changed) else f"only {sum(changed)} of the 2 faces was translated"


def steps_reached(model: Path, steps: int) -> str | None:
    saved = json.loads((model / "model.json").read_text())["steps"]
    return None if saved == steps else f"the saved model has {saved} steps, not {steps}"


def both_faces_found(dataset: Path) -> str | None:
    """`vidswap extract` on the two-face clip: MTCNN on the device must find both faces
    in (nearly) every frame."""
    summary = json.loads((dataset / "summary.json").read_text())
    wanted = 2 * summary["frames"] - 2
    return None if summary["faces"] >= wanted else f"{summary['faces']} faces in {summary['frames']} frames"


@dataclass(frozen=True)
class Profile:
    """How much each row does: --quick proves every path in about 5 minutes on one GPU."""

    train_steps: int
    precisions: tuple[tuple[str, bool], ...]  # (amp, channels-last) each method trains with
    bench_sizes: tuple[str, ...]
    bench_backends: tuple[str, ...]  # beside torch and compile, when installed
    bench_seconds: str
    minutes: float
    resume: tuple[str, ...]  # the methods whose fp32 run is resumed


QUICK = Profile(4, (("off", True), ("bf16", True), ("fp16", True)), ("1080x1920",), ("tensorrt",), "1", 5.0, ("cut",))
FULL = Profile(20, (("off", True), ("bf16", True), ("fp16", True), ("bf16", False)), ("256x256", "720x1280"),
               ("onnx", "tensorrt"), "2", 12.0, METHODS)  # fmt: skip


def ranks_took_part(run_dir: Path, ranks: int) -> str | None:
    from trainer.checkpoint import CHECKPOINT, read_checkpoint

    _, tensors = read_checkpoint(run_dir / CHECKPOINT)
    missing = [rank for rank in range(ranks) if f"rng/torch/{rank}" not in tensors]
    return f"rank {missing} left no state in the checkpoint" if missing else None


def both_ranks_stopped(output: str) -> str | None:
    lines = [line for line in output.splitlines() if "a loss became non-finite on rank 1 at step 2" in line]
    return None if len(lines) == 2 else f"{len(lines)} of the 2 ranks said the loss became non-finite at step 2"


def fell_back(output: str) -> str | None:
    return None if "backend tensorrt failed" in output else "no fallback from the broken TensorRT was logged"


def broken_tensorrt(work: Path) -> Path:
    """A folder holding a `tensorrt` package that imports but fails at its first call, as one
    whose CUDA libraries do not match does: `--backend auto` must fall back past it."""
    package = work / "broken-tensorrt" / "tensorrt"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(
        '__version__ = "0.0.0-broken"\n\n\ndef __getattr__(name):\n'
        '    raise RuntimeError("this TensorRT is broken on purpose (gpu_check\'s fallback row)")\n'
    )
    return package.parent


def plan(work: Path, device: str, machine: Machine, profile: Profile) -> list[list[Step]]:
    """The steps in phases: a phase runs in parallel, after the one before it."""
    a, b, clip, store = work / "A", work / "B", work / "two_faces.mp4", work / "models"
    steps = profile.train_steps
    on_gpu = device != "cpu"

    def train(name: str, method: str, amp: str = "off", channels_last: bool = True, *extra: str) -> list[str]:
        # amp quoted: YAML reads a bare `off` as false
        settings = (f"train.device={device}", f"train.amp='{amp}'", f"train.channels_last={channels_last}",
                    f"train.checkpoint_every={steps // 2}", "train.bn_refresh=0")  # fmt: skip
        return [*CLI, "train", "--source", str(a), "--target", str(b), "--method", method, "--name", name,
                "--mode", "frame", "--config", "tiny", "--models-dir", str(store), "--steps", str(steps),
                *(arg for setting in settings for arg in ("--set", setting)), *extra]  # fmt: skip

    training, resumes = [], []
    for method in METHODS:
        for amp, channels_last in profile.precisions:
            needs = DATA if amp == "off" else (*DATA, "cuda")
            name = f"{method}-{amp}" + ("" if channels_last else "-cf")
            training.append(
                Step(
                    train_label(method, amp, channels_last),
                    train(name, method, amp, channels_last),
                    180,
                    needs,
                    check=lambda model=store / name: steps_reached(model, steps),
                )
            )
        if method not in profile.resume:
            continue
        # a later --steps wins over the first: the finished run continues for half as many steps again
        more = steps + steps // 2
        resumed = train(f"{method}-off", method, "off", True, "--resume", "--steps", str(more))
        resumes.append(
            Step(
                f"train {method} resume {steps} -> {more} steps",
                resumed,
                180,
                DATA,
                after=train_label(method, "off", True),
                check=lambda model=store / f"{method}-off", more=more: steps_reached(model, more),
            )
        )
    # two processes on one device: gloo (NCCL refuses two ranks on one GPU); FastCUT with batch
    # norm, which torch synchronises across the ranks on a GPU, and flipped steps all ranks agree on
    ddp = train("ddp", "fastcut", "off", True, "--set", "net.norm=batch", "--set", "train.dist_backend=gloo")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *ddp[1:]]
    training.append(
        Step(
            f"torchrun 2 processes on one {'GPU' if on_gpu else 'CPU'} (gloo), FastCUT, batch norm"
            + (" synchronised" if on_gpu else ""),
            torchrun,
            240,
            DATA,
            check=lambda: ranks_took_part(store / ".runs" / "ddp", 2),
        )
    )

    # rank 1's batch at step 2 is NaN: both ranks must stop at that step with the same one line
    # (--standalone: each torchrun on a free port, as the two of this phase run at once)
    nan = train("nan", "cut", "off", True, "--set", "train.dist_backend=gloo")
    nan_run = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "--no-python", sys.executable, str(ROOT / "tests" / "training" / "nan_on_rank.py"), "1:2",
               *nan[3:]]  # fmt: skip
    training.append(Step("torchrun 2 processes, a NaN on rank 1 at step 2: both stop", nan_run, 240, DATA,
                         output_check=both_ranks_stopped, fails_on_purpose=True))  # fmt: skip

    model = str(store / "cut-off")
    after_cut = train_label("cut", "off", True)
    inference = []

    def apply(label: str, out: Path, mode: str, backend: str, fp16: bool, needs: tuple[str, ...], **kw) -> Step:
        argv = [*CLI, "apply", str(clip), "-m", model, "-o", str(out), "--mode", mode, "--backend", backend,
                "--device", device, "--batch", "4", "-y"] + (["--fp16"] if fp16 else [])  # fmt: skip
        argv += ["--faces", "all"] if mode == "face" else []
        return Step(label, argv, 240, DATA + needs, after=after_cut, figure="frames/s", **kw)

    for mode in ("frame", "face"):
        for backend in BACKENDS:
            for fp16 in (False, True):
                precision = "fp16" if fp16 else "fp32"
                label = f"apply {mode} mode{', two faces' if mode == 'face' else ''}, {backend}, {precision}"
                out = work / f"out-{mode}-{backend}-{precision}.mp4"
                needs = ("cuda",) if fp16 else ()
                needs += {"onnx": ("onnx-cuda",), "tensorrt": ("tensorrt",), "compile": ("compile",)}.get(backend, ())
                if backend == "onnx" and fp16:
                    needs += ("onnx-fp16",)
                check = (lambda out=out: both_faces_changed(clip, out)) if mode == "face" else None
                inference.append(apply(label, out, mode, backend, fp16, needs, check=check))
    inference.append(apply("apply --backend auto", work / "out-auto.mp4", "frame", "auto", False, ()))
    fallback = apply("apply --backend auto, TensorRT broken: falls back", work / "out-fallback.mp4", "frame",
                     "auto", False, ("cuda",), check=None)  # fmt: skip
    path = [str(broken_tensorrt(work)), str(ROOT), os.environ.get("PYTHONPATH")]
    fallback.env = {"PYTHONPATH": os.pathsep.join(filter(None, path))}
    fallback.output_check = fell_back
    inference.append(fallback)
    for backend in BACKENDS:
        for fp16 in (False, True):
            needs = ("cuda",) if fp16 else ()
            needs += {"onnx": ("onnx-cuda", "onnx-fp16") if fp16 else ("onnx-cuda",), "tensorrt": ("tensorrt",),
                      "compile": ("compile",)}.get(backend, ())  # fmt: skip
            argv = [sys.executable, str(ROOT / "scripts" / "backend_probe.py"), "--model", model, "--backend", backend,
                    "--device", device] + (["--fp16"] if fp16 else [])  # fmt: skip
            label = f"{backend} {'fp16' if fp16 else 'fp32'}: a batch larger than made for, a second frame size"
            inference.append(Step(label, argv, 240, needs, after=after_cut))
    for fp16 in (False, True):
        argv = [*CLI, "export", "--model", model, "--format", "tensorrt", "--device", device, "--size", "64x128",
                "--batch", "2"] + (["--fp16"] if fp16 else [])  # fmt: skip
        inference.append(Step(f"export --format tensorrt{' --fp16' if fp16 else ''}", argv, 300, ("tensorrt",),
                              after=after_cut))  # fmt: skip
    argv = [*CLI, "export", "--model", model, "--format", "onnx", "--device", device]
    inference.append(Step("export --format onnx", argv, 240, after=after_cut))
    # face detection (MTCNN and its ONet refinement) on the device, apart from any generator
    faces = work / "faces"
    extract = [*CLI, "extract", str(clip), "-o", str(faces), "--mode", "face", "--size", "64", "--device", device]
    inference.append(Step(f"extract --mode face (MTCNN on {device})", extract, 180, DATA,
                          check=lambda: both_faces_found(faces)))  # fmt: skip
    inference.append(Step("doctor", [*CLI, "doctor", "--json"], 60, figure="doctor" if on_gpu else "seconds"))

    scripts = ROOT / "scripts"
    bench_train = [sys.executable, str(scripts / "bench_train.py"), "--device", device, "--amp", "off", "bf16",
                   "--warmup", "3", "--steps", str(max(steps // 2, 4)), "--rounds", "1"]  # fmt: skip
    if profile is QUICK:
        bench_train += ["--sizes", "256", "64"]
    benches = [Step("bench_train.py GPU rows (amp off, bf16)", bench_train, 240, ("cuda",), figure="bench")]
    for fp16 in (False, True):
        backends = ["torch", "compile"] + [
            name
            for name, need in (("onnx", "onnx-cuda"), ("tensorrt", "tensorrt"))
            if name in profile.bench_backends and need not in machine.missing and not (fp16 and name == "onnx")
        ]
        argv = [sys.executable, str(scripts / "bench_backends.py"), "--device", device, "--nets", "paper", "--sizes",
                *profile.bench_sizes, "--seconds", profile.bench_seconds, "--backends", *backends]  # fmt: skip
        benches.append(
            Step(
                f"bench_backends.py GPU rows ({'fp16' if fp16 else 'fp32'})",
                argv + (["--fp16"] if fp16 else []),
                240,
                ("cuda",),
                figure="bench",
            )
        )
    # resumes rewrite model folders that apply reads: after it
    return [training, inference, resumes, benches]


def error_line(text: str) -> str:
    """The line that says what went wrong: vidswap's own one-line error, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return next((line for line in reversed(lines) if line.startswith("vidswap: error:")), lines[-1] if lines else "")


def figure_of(step: Step, output: str, seconds: float) -> tuple[str, str | None]:
    """(figure, failure or None) read from a passed step's output."""
    if step.figure == "frames/s":
        match = re.search(r"([\d.]+) frames/s", output)
        return (f"{match[1]} frames/s" if match else f"{seconds:.1f} s"), None
    if step.figure == "doctor":
        report = json.loads(output[output.index("{") :])
        gpus = [g for g in report["gpus"] if g["allocates"]]
        if not gpus:
            return "", f"doctor finds no usable GPU: {' '.join(report['advice'])[:200]}"
        return f"{gpus[0]['name']}, {gpus[0]['memory_gib']} GiB, driver CUDA {report['driver_cuda']}", None
    if step.figure == "bench":
        return f"{seconds:.0f} s (table below)", None
    return f"{seconds:.1f} s", None


def run(step: Step, env: dict[str, str], deadline: float, passed: dict[str, bool], machine: Machine) -> Row:
    reason = machine.why_not(step.needs)
    if reason is None and "onnx-fp16" in step.needs:
        reason = "the onnx backend is fp32 only (vidswap refuses --fp16 with it)"
    if reason is None and step.after and not passed.get(step.after):
        reason = f"needs '{step.after}', which did not pass"
    if reason:
        return Row(step.name, "skip", detail=reason)
    left = deadline - time.monotonic()
    if left < 10:
        return Row(step.name, "not reached", detail="the deadline (--minutes) came first")
    timeout = min(step.timeout, left)
    start = time.monotonic()
    try:
        proc = subprocess.run(step.argv, cwd=ROOT, env=env | step.env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
        if timeout < step.timeout:
            return Row(step.name, "not reached", detail=f"cut off by the deadline after {timeout:.0f} s", output=output)
        return Row(step.name, "fail", detail=f"timed out after {timeout:.0f} s", output=output)
    seconds = time.monotonic() - start
    output = proc.stdout + proc.stderr
    if step.fails_on_purpose and proc.returncode == 0:
        return Row(step.name, "fail", detail="it was meant to stop with an error and exited 0", output=output)
    if proc.returncode != 0 and not step.fails_on_purpose:
        return Row(step.name, "fail", detail=f"exit {proc.returncode}: {error_line(proc.stderr or proc.stdout)}",
                   output=output)  # fmt: skip
    figure = ""
    try:
        figure, failure = figure_of(step, output, seconds)
        failure = failure or (step.output_check and step.output_check(output)) or (step.check and step.check())
    except Exception as exc:  # noqa: BLE001 (a missing file, a shape: the row fails, the table goes on)
        failure = f"checking the result: {type(exc).__name__}: {exc}"
    if failure and step.fails_on_purpose:
        failure += f" (exit {proc.returncode}: {error_line(output)})"
    return Row(step.name, "fail" if failure else "pass", figure, failure or "", output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0", help="cuda:N, or cpu to check the script itself")
    parser.add_argument("--quick", action="store_true", help="every path in about 5 minutes (fewer steps, benchmarks)")
    parser.add_argument("--minutes", type=float, help="time for all steps together (default: 5 with --quick, else 12)")
    parser.add_argument("--jobs", type=int, default=4, help="steps run at a time within a phase")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (models, clips, outputs)")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    start = time.monotonic()
    deadline = start + (args.minutes or profile.minutes) * 60
    machine = Machine(args.device)
    if args.quick and args.device == "cpu":
        machine.missing["compile"] = "torch.compile on a CPU builds C++ for minutes: the full profile runs it"
    work = args.keep or Path(tempfile.mkdtemp(prefix="vidswap-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                        "PYTHONUNBUFFERED": "1", "VIDSWAP_HOME": str(work / "home"), "COLUMNS": "200"}  # fmt: skip
    if args.device.startswith("cuda"):
        env["CUDA_VISIBLE_DEVICES"] = args.device.partition(":")[2] or "0"  # one GPU; the CLI sees it as cuda:0
        device = "cuda:0"
    else:
        device = args.device
    if machine.why_not(DATA) is None:
        make_data(work)
    rows: list[Row] = []
    passed: dict[str, bool] = {}
    try:
        for phase in plan(work, device, machine, profile):
            jobs = 1 if phase and phase[0].figure == "bench" else args.jobs
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                results = list(pool.map(lambda step, done=passed: run(step, env, deadline, done, machine), phase))
            passed |= {row.name: row.result == "pass" for row in results}
            rows += results
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"vidswap GPU check{' --quick' * args.quick}: torch {torch.__version__} (CUDA {torch.version.cuda}), "
          f"{machine.missing.get('gpu') or torch.cuda.get_device_name(args.device) if device != 'cpu' else 'CPU'}, "
          f"Python {sys.version.split()[0]}\n")  # fmt: skip
    print("| step | result | figure | detail |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row.name} | {row.result} | {row.figure} | {row.detail.replace('|', '/')} |")
    for row in rows:
        table = [line for line in row.output.splitlines() if line.startswith(("|", "torch "))]
        if row.figure.endswith("(table below)") or (table and row.name.startswith("bench")):
            print(f"\n{row.name}:\n" + "\n".join(table))
    counts = {r: sum(row.result == r for row in rows) for r in ("pass", "fail", "skip", "not reached")}
    print(
        f"\n{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped, "
        f"{counts['not reached']} not reached in {time.monotonic() - start:.0f} s"
    )
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
