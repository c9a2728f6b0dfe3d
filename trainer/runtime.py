"""Where and how a training step runs: device, mixed precision, memory format and
data parallelism. Methods use it for their forward passes and optimizer steps; the
loop creates it. Nothing here knows about a particular method."""

from __future__ import annotations

import contextlib
import inspect
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from vidswap.device import select_device
from vidswap.errors import VidswapError


class NonFiniteLoss(VidswapError):
    """A loss became NaN or infinite on at least one process: training cannot continue from this state."""

    def __init__(self, ranks: list[int]):
        self.ranks = ranks
        super().__init__("a loss became non-finite" + (f" on rank {', '.join(map(str, ranks))}" if ranks else ""))


@dataclass
class Runtime:
    device: torch.device
    amp_dtype: torch.dtype | None = None  # autocast dtype; None: full precision
    channels_last: bool = False
    rank: int = 0
    world_size: int = 1
    scaler: torch.amp.GradScaler | None = field(default=None, repr=False)  # fp16 only
    # torch synchronises batch norm across processes only on GPUs (its CPU/gloo forward raises)
    sync_batch_norm: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def prepare(self, net: nn.Module) -> nn.Module:
        """Move a network to the device (channels-last on GPU), its batch norms synchronised across GPUs."""
        if self.sync_batch_norm:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        net = net.to(self.device)
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def wrap(self, net: nn.Module) -> nn.Module:
        """The module to call when its gradients must be averaged across processes."""
        if not self.distributed:
            return net
        ids = [self.device.index] if self.device.type == "cuda" else None
        # broadcast_buffers=False: methods call a network more than once before backward, and
        # rank 0's batch-norm statistics copied in place at the second call invalidate what the
        # first saved for its backward (torch 2.11 refuses; synchronised batch norm keeps them equal).
        # torch 2.15 renamed the switch forward_sync_buffers (the old name warns); both keep the
        # one broadcast at start-up
        renamed = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
        no_forward_sync = {"forward_sync_buffers" if renamed else "broadcast_buffers": False}
        return DistributedDataParallel(net, device_ids=ids, **no_forward_sync)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def check_finite(self, loss: torch.Tensor) -> None:
        """NonFiniteLoss on every process when the loss is not finite on any one of them: all
        processes make this call at the same point of the step, so they stop together
        instead of the others waiting for a gradient all-reduce that never comes."""
        bad = torch.zeros(self.world_size, device=loss.device)
        bad[self.rank] = (~torch.isfinite(loss.detach())).any()
        if self.distributed:
            dist.all_reduce(bad)
        ranks = bad.nonzero().flatten().tolist()
        if ranks:
            raise NonFiniteLoss(ranks if self.distributed else [])

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Backward and one optimizer step, refusing a non-finite loss before it touches the weights.
        With fp16 the loss scale is updated once an iteration, by `end_iteration`."""
        self.check_finite(loss)
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)

    def end_iteration(self) -> None:
        """After every optimizer of the iteration stepped: one loss-scale update (the scaler
        then sees every optimizer's overflow check of the iteration, as torch documents)."""
        if self.scaler is not None:
            self.scaler.update()


def make_runtime(
    device: str = "auto", amp: str = "auto", channels_last: bool = True, threads: int = 0, dist_backend: str = "auto"
) -> Runtime:
    """Pick the device (CUDA when present), precision and, under torchrun, join the process group:
    NCCL on GPUs, gloo on CPUs or when asked (gloo lets processes share a GPU, which NCCL refuses)."""
    if threads > 0:
        torch.set_num_threads(threads)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = select_device(device, local_rank, world_size, share_gpus=dist_backend == "gloo")
    if dev.type == "cpu":
        torch.set_flush_denormal(True)  # GAN gradients drift into denormals, which are very slow on x86
    if dev.type == "cuda":
        torch.cuda.set_device(dev)  # before NCCL starts: it binds each process to the current GPU
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest kernels once
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" and dist_backend != "gloo" else "gloo")
    amp_dtype = None
    if amp == "bf16" or (amp == "auto" and dev.type == "cuda" and torch.cuda.is_bf16_supported()):
        amp_dtype = torch.bfloat16
    elif amp == "fp16" or (amp == "auto" and dev.type == "cuda"):
        amp_dtype = torch.float16
    return Runtime(
        device=dev,
        amp_dtype=amp_dtype,
        channels_last=channels_last and dev.type == "cuda",
        rank=rank,
        world_size=world_size,
        # fp16's narrow range needs loss scaling on any device; bf16 has float32's range
        scaler=torch.amp.GradScaler(dev.type) if amp_dtype == torch.float16 else None,
        sync_batch_norm=world_size > 1 and dev.type == "cuda",
    )
