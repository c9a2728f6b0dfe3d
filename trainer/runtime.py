"""Where and how a training step runs: device, mixed precision, memory format and
data parallelism. Methods use it for their forward passes and optimizer steps; the
loop creates it. Nothing here knows about a particular method."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import torch
from torch import nn

from vidswap.device import pick_device
from vidswap.errors import VidswapError


class NonFiniteLoss(VidswapError):
    """A loss became NaN or infinite: training cannot continue from this state."""


@dataclass
class Runtime:
    device: torch.device
    amp_dtype: torch.dtype | None = None  # autocast dtype; None: full precision
    channels_last: bool = False
    rank: int = 0
    world_size: int = 1
    scaler: torch.amp.GradScaler | None = field(default=None, repr=False)  # fp16 only

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
        """Move a network to the device (channels-last on GPU)."""
        net = net.to(self.device)
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def wrap(self, net: nn.Module) -> nn.Module:
        """The module to call when its gradients must be averaged across processes."""
        if not self.distributed:
            return net
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(net, device_ids=ids)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Backward and one optimizer step, refusing a non-finite loss before it touches the weights."""
        if not torch.isfinite(loss.detach()).item():
            raise NonFiniteLoss("a loss became non-finite")
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()


def make_runtime(device: str = "auto", amp: str = "auto", channels_last: bool = True, threads: int = 0) -> Runtime:
    """Pick the device (CUDA when present), precision and, under torchrun, join the process group."""
    if threads > 0:
        torch.set_num_threads(threads)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(pick_device(device))
    if dev.type == "cpu":
        torch.set_flush_denormal(True)  # GAN gradients drift into denormals, which are very slow on x86
    if dev.type == "cuda":
        if world_size > 1:
            dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest kernels once
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world_size > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    amp_dtype = None
    if dev.type == "cuda" and amp != "off":
        if amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported()):
            amp_dtype = torch.bfloat16
        else:
            amp_dtype = torch.float16
    elif dev.type == "cpu" and amp in ("bf16", "fp16"):
        amp_dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    scaler = torch.amp.GradScaler(dev.type) if amp_dtype == torch.float16 and dev.type == "cuda" else None
    return Runtime(
        device=dev,
        amp_dtype=amp_dtype,
        channels_last=channels_last and dev.type == "cuda",
        rank=rank,
        world_size=world_size,
        scaler=scaler,
    )
