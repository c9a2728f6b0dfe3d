"""The shared training loop: schedule, checkpoints and resume, Ctrl-C, progress, loss log,
sample grids and TensorBoard. A method contributes only its networks and its step."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from trainer.checkpoint import CHECKPOINT, read_checkpoint, restore, save_checkpoint
from trainer.config import Config
from trainer.data import Augment, UnpairedSampler
from trainer.methods import method_spec
from trainer.methods.base import Method
from trainer.runtime import NonFiniteLoss, Runtime, make_runtime
from vidswap.errors import VidswapError
from vidswap.fsutil import atomic_path

LOSS_LOG = "losses.jsonl"


@dataclass
class TrainResult:
    step: int  # steps completed
    interrupted: bool  # stopped early by Ctrl-C (a checkpoint was saved)
    losses: dict[str, float]  # the last step's losses
    method: Method  # the trained method (its export() gives the generators)
    runtime: Runtime


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


class StopFlag:
    """First Ctrl-C: finish the current step, checkpoint and stop. Second: abort at once."""

    def __init__(self, on_first=None):
        self.requested = False
        self.on_first = on_first
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.on_first:
            self.on_first()

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


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


def save_grid(rows: list[torch.Tensor], path: Path) -> None:
    """One row a kind of image (input, translation, ...), one column a sample."""
    from torchvision.utils import save_image

    images = torch.cat([r.float().cpu() for r in rows]).add(1).div(2).clamp(0, 1)
    with atomic_path(path) as tmp:
        save_image(images, str(tmp), nrow=rows[0].shape[0], padding=2)


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
    cfg: Config, images_a: list[Path], images_b: list[Path], run_dir: Path, *, console=None, show_progress: bool = True
) -> TrainResult:
    """Train `cfg.method` to cfg.train.steps, continuing from run_dir's checkpoint if there is one."""
    t = cfg.train
    rt = make_runtime(t.device, t.amp, t.channels_last, t.threads)
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
    _barrier(rt)
    sampler = UnpairedSampler(
        images_a,
        images_b,
        Augment(cfg.data.size, cfg.data.load_size or round(cfg.data.size * 286 / 256), cfg.data.flip),
        t.batch_size,
        t.seed,
        rt.rank,
        consecutive=spec.inputs if t.temporal > 0 and t.temporal_mode == "flow" else (),
    )
    grid_batch = (
        sampler.batch(0) if rt.is_main else None
    )  # fixed images for every sample grid (training draws from step 1)
    log = _loss_log(run_dir, start) if rt.is_main else None
    board = _tensorboard(run_dir) if rt.is_main else None
    losses: dict[str, float] = {}
    step = start
    stopping = False
    progress = _progress(console, show_progress and rt.is_main)

    def checkpoint(at: int) -> None:
        rng = _rng_states(rt)
        if rt.is_main:
            save_checkpoint(run_dir, at, cfg.to_dict(), method, rng, rt.scaler)
        _barrier(rt)

    def announce_stop() -> None:
        progress.console.print("[yellow]stopping after this step and saving a checkpoint (Ctrl-C again aborts)[/]")

    try:
        with progress, StopFlag(announce_stop) as stop:
            task = progress.add_task(cfg.method, total=t.steps, completed=start, rate="", losses="")
            tick, rate = time.perf_counter(), 0.0
            for step, batch in sampler.batches(start, t.steps, cfg.data.loader_threads):
                factor = lr_factor(step, method.phases, t.decay_from)
                for opt in method.optimizers.values():
                    for group in opt.param_groups:
                        group["lr"] = t.lr * factor
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
                now = time.perf_counter()
                rate = 1.0 / max(now - tick, 1e-9) if rate == 0 else 0.9 * rate + 0.1 / max(now - tick, 1e-9)
                tick = now
                if rt.is_main:
                    if step % t.log_every == 0 or step == t.steps:
                        log.write(json.dumps({"step": step, "lr": t.lr * factor, **losses}) + "\n")
                        log.flush()
                        if board is not None:
                            for name, value in losses.items():
                                board.add_scalar(f"loss/{name}", value, step)
                    progress.update(
                        task,
                        completed=step,
                        rate=f"{rate:.2f} it/s",
                        losses=" ".join(f"{k} {v:.3f}" for k, v in losses.items()),
                    )
                    if step % t.sample_every == 0 or step == t.steps:
                        with evaluating(method.modules.values()), torch.no_grad():
                            rows = method.sample(grid_batch)
                        save_grid(rows, run_dir / "samples" / f"step_{step:07d}.png")
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
    return TrainResult(step=step, interrupted=stopping and step < t.steps, losses=losses, method=method, runtime=rt)
