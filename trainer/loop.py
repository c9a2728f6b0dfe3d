"""The shared training loop: schedule, checkpoints and resume, Ctrl-C and SIGTERM, progress (a bar
on a terminal, plain lines in a log), loss log, sample grids, TensorBoard, throughput and the
run's report page. A method contributes only its networks and its step."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from rich.console import Console
from torch import nn
from torchvision.utils import make_grid, save_image

from trainer.checkpoint import CHECKPOINT, read_checkpoint, restore, save_checkpoint
from trainer.config import Config, TrainConfig
from trainer.data import UnpairedSampler, training_augment
from trainer.methods import method_spec
from trainer.methods.base import Method
from trainer.report import (
    FIRST_ESTIMATE,
    LOSS_LOG,
    SAMPLES,
    Pace,
    log_line,
    throughput,
    throughput_line,
    write_report,
    write_throughput,
)
from trainer.runtime import NonFiniteLoss, Runtime, make_runtime
from vidswap.errors import VidswapError
from vidswap.fsutil import atomic_path


@dataclass
class TrainResult:
    step: int  # steps completed
    interrupted: bool  # stopped early by Ctrl-C or SIGTERM (a checkpoint was saved)
    losses: dict[str, float]  # the last step's losses
    method: Method  # the trained method (its export() gives the generators)
    runtime: Runtime
    stop_signal: int | None = None  # the signal this process received, if any


def lr_factor(step: int, phases: list[int], decay_from: float) -> float:
    """Constant, then linear decay towards 0 over the last (1 - decay_from) of each phase
    (the reference schedule, 1 - k / (n_decay + 1)); step counts from 1."""
    start = 0
    for end in phases:
        if step <= end:
            break
        start = end
    n, k = end - start, step - start
    constant = round(n * decay_from)
    return 1.0 if k <= constant else max(0.0, 1.0 - (k - constant) / (n - constant + 1))


def set_learning_rate(method: Method, t: TrainConfig, step: int) -> float:
    """Every optimizer's learning rate for `step`; -> the schedule's factor."""
    factor = lr_factor(step, method.phases, t.decay_from)
    for opt in method.optimizers.values():
        for group in opt.param_groups:
            group["lr"] = t.lr * factor
    return factor


class StopFlag:
    """First Ctrl-C or SIGTERM (a batch system's time limit): finish the current step, checkpoint
    and stop. A second one: abort at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, on_first: Callable[[int], None] | None = None):
        self.requested = False
        self.signum: int | None = None
        self.on_first = on_first
        self._previous: dict[int, Any] = {}

    def __enter__(self):
        try:
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        except ValueError:  # not the main thread: leave the signals alone
            self._previous = {}
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signum = signum
        if self.on_first:
            self.on_first(signum)

    def __exit__(self, *exc):
        for s, previous in self._previous.items():
            signal.signal(s, previous)


def _rng_states(rt: Runtime) -> dict[str, torch.Tensor]:
    local = {"torch": torch.get_rng_state()}
    if rt.device.type == "cuda":
        local["cuda"] = torch.cuda.get_rng_state(rt.device)
    gathered = [local]
    if rt.distributed:
        gathered = [None] * rt.world_size
        dist.all_gather_object(gathered, local)
    return {f"{key}/{rank}": value for rank, states in enumerate(gathered) for key, value in states.items()}


def _rank_seed(seed: int, rank: int) -> int:
    """Each rank's own random stream (noise, patch picks, pools) for a fresh run."""
    return seed + 1_000_003 * rank


def _set_rng_states(rt: Runtime, states: dict[str, torch.Tensor], seed: int, step: int) -> None:
    """Each rank continues its saved streams; a rank the checkpoint does not hold (a run resumed
    with more processes) starts a stream derived from the seed, its rank and the step."""
    if f"torch/{rt.rank}" not in states:
        torch.manual_seed(_rank_seed(seed, rt.rank) + step)
        return
    torch.set_rng_state(states[f"torch/{rt.rank}"])
    if rt.device.type == "cuda" and f"cuda/{rt.rank}" in states:
        torch.cuda.set_rng_state(states[f"cuda/{rt.rank}"], rt.device)


def _any_rank(rt: Runtime, flag: bool) -> bool:
    if not rt.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=rt.device if rt.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return bool(t.item() > 0)


def _barrier(rt: Runtime) -> None:
    if rt.distributed:
        dist.barrier()


@contextlib.contextmanager
def evaluating(nets: Iterable[nn.Module]) -> Iterator[None]:
    """Eval mode inside, each network's own mode restored after: samples show what the exported
    model will draw, and batch norms (synchronised ones included) neither update nor communicate."""
    nets = list(nets)
    modes = [(m, m.training) for net in nets for m in net.modules()]
    for net in nets:
        net.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def save_grid(rows: list[torch.Tensor], path: Path) -> torch.Tensor:
    """One row a kind of image (input, translation, ...), one column a sample; -> the grid (CHW in [0, 1])."""
    images = torch.cat([r.float().cpu() for r in rows]).add(1).div(2).clamp(0, 1)
    grid = make_grid(images, nrow=rows[0].shape[0], padding=2)
    with atomic_path(path) as tmp:
        save_image(grid, str(tmp))
    return grid


def _loss_log(run_dir: Path, start: int):
    """Append to the loss log, first dropping lines past the step we resume from."""
    path = run_dir / LOSS_LOG
    if path.exists():
        keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= start]
        path.write_text("".join(line + "\n" for line in keep))
    return open(path, "a")


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))


def _progress(console, enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[losses]}"),
        console=console,
        disable=not enabled,
        refresh_per_second=4,
    )


def train(
    cfg: Config,
    images_a: list[Path],
    images_b: list[Path],
    run_dir: Path,
    *,
    console: Console | None = None,
    show_progress: bool = True,
    data: dict[str, Any] | None = None,
    publish: Callable[[int, Method], None] | None = None,
) -> TrainResult:
    """Train `cfg.method` to cfg.train.steps, continuing from run_dir's checkpoint if there is one.
    `data` (each domain's name, sources and image count) goes into the report page; `publish(step,
    method)` runs on the first process after each checkpoint short of the end (the train command
    stores a partial model there)."""
    t = cfg.train
    rt = make_runtime(t.device, t.amp, t.channels_last, t.threads, t.dist_backend)
    torch.manual_seed(t.seed)  # identical initial weights on every rank
    spec = method_spec(cfg.method)
    method = spec.build(cfg, rt)
    start = 0
    ckpt = run_dir / CHECKPOINT
    if ckpt.exists():
        meta, tensors = read_checkpoint(ckpt)
        start = meta["step"]
        _set_rng_states(rt, restore(meta, tensors, method, rt.scaler), t.seed, start)
    else:
        torch.manual_seed(_rank_seed(t.seed, rt.rank))
    if rt.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_report(run_dir, cfg.to_dict(), data, start, None)  # now, so an unwritable folder fails at once
    _barrier(rt)
    sampler = UnpairedSampler(
        images_a,
        images_b,
        training_augment(cfg.data),
        t.batch_size,
        t.seed,
        rt.rank,
        consecutive=spec.inputs if t.temporal > 0 and t.temporal_mode == "flow" else (),
        triplets=spec.inputs if t.recycle > 0 else (),
    )
    grid_batch = (
        sampler.batch(0) if rt.is_main else None
    )  # fixed images for every sample grid (training draws from step 1)
    console = console or Console(stderr=True)
    # a log that is not a terminal (nohup, Slurm, CI) gets plain lines; Rich would print its bar only at the end
    plain = show_progress and rt.is_main and not console.is_terminal
    pace = Pace(t.steps)
    pace_info: dict[str, Any] | None = None
    log = _loss_log(run_dir, start) if rt.is_main else None
    board = _tensorboard(run_dir) if rt.is_main else None
    losses: dict[str, float] = {}
    step = start
    stopping = False
    progress = _progress(console, show_progress and rt.is_main and not plain)

    def checkpoint(at: int) -> None:
        nonlocal pace_info
        rng = _rng_states(rt)
        if rt.is_main:
            save_checkpoint(run_dir, at, cfg.to_dict(), method, rng, rt.scaler)
            if publish is not None and at < t.steps:
                # building the exported networks (AC-GAN's translators) must not draw from the run's streams
                with torch.random.fork_rng(devices=[rt.device] if rt.device.type == "cuda" else []):
                    publish(at, method)
            if pace_info is not None:
                pace_info = throughput(pace, at)
                write_throughput(run_dir, pace_info)
            write_report(run_dir, cfg.to_dict(), data, at, pace_info)
        _barrier(rt)

    def announce_stop(signum: int) -> None:  # someone at the keyboard waits; SIGTERM gets the final line only
        if signum == signal.SIGINT:
            console.print("[yellow]stopping after this step and saving a checkpoint (Ctrl-C again aborts)[/]")

    try:
        with progress, StopFlag(announce_stop) as stop:
            task = progress.add_task(cfg.method, total=t.steps, completed=start, rate="", losses="")
            for step, batch in sampler.batches(start, t.steps, cfg.data.loader_threads):
                factor = set_learning_rate(method, t, step)
                try:
                    losses = method.train_step(batch, step)
                except NonFiniteLoss as exc:
                    # every rank is here (the check is collective): wait, so that none exits (and has
                    # torchrun stop the others) before all have reported
                    _barrier(rt)
                    raise VidswapError(
                        f"{exc} at step {step}; the last checkpoint is in {run_dir} "
                        f"(try a lower train.lr or train.amp=off)"
                    ) from None
                rt.end_iteration()
                pace.tick(step)
                if rt.is_main:
                    if step - start == FIRST_ESTIMATE:
                        pace_info = throughput(pace, step)
                        write_throughput(run_dir, pace_info)
                        if show_progress:
                            console.print(throughput_line(pace_info), highlight=False, soft_wrap=True)
                    if step % t.log_every == 0 or step == t.steps:
                        log.write(json.dumps({"step": step, "lr": t.lr * factor, **losses}) + "\n")
                        log.flush()
                        if plain:
                            console.print(
                                log_line(step, t.steps, losses, pace), highlight=False, markup=False, soft_wrap=True
                            )
                        if board is not None:
                            for name, value in losses.items():
                                board.add_scalar(f"loss/{name}", value, step)
                            if pace.rate is not None:
                                board.add_scalar("train/steps_per_second", pace.rate, step)
                    progress.update(
                        task,
                        completed=step,
                        rate=f"{pace.rate:.2f} it/s" if pace.rate else "",
                        losses=" ".join(f"{k} {v:.3f}" for k, v in losses.items()),
                    )
                    if step % t.sample_every == 0 or step == t.steps:
                        with evaluating(method.modules.values()), torch.no_grad():
                            rows = method.sample(grid_batch)
                        grid = save_grid(rows, run_dir / SAMPLES / f"step_{step:07d}.png")
                        if board is not None:
                            board.add_image("samples", grid, step)
                stopping = _any_rank(rt, stop.requested)
                if stopping or step % t.checkpoint_every == 0 or step == t.steps:
                    checkpoint(step)
                if stopping:
                    break
    finally:
        if log is not None:
            log.close()
        if board is not None:
            board.close()
    return TrainResult(
        step=step,
        interrupted=stopping and step < t.steps,
        losses=losses,
        method=method,
        runtime=rt,
        stop_signal=stop.signum,
    )
