"""Instance-norm statistics held steady along a clip (issue 23, `--hold-norm`).

An instance-normalised generator normalises each feature map by its own per-channel mean
and variance, so a change anywhere in the picture (a hand entering, a pan revealing new
content) moves the statistics and with them the whole output: flicker far from where the
input changed. HeldNorms copies a generator and swaps each InstanceNorm2d that uses
per-image statistics for HeldInstanceNorm, whose statistics are an exponential average
over the clip's frames so far: mean_t = hold * mean_t-1 + (1 - hold) * this frame's mean
(the variance likewise). The frames of a batch are taken in order.

Which frames start a scene (the first of a clip, the first after a cut) is given per batch
with `restart`; such a frame is normalised by its own statistics, as instance norm does.
A batch without `restart` is a batch of unrelated images: each is normalised alone, exactly
as the plain generator does.

`HeldNorms.step()` is the same network with its state outside: one frame, the history's
weight and every held statistic in, the output and the new statistics out. That is what an
ONNX export can hold (vidswap.runtime.onnxruntime_backend feeds the statistics back).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn


def holds(generator: nn.Module) -> bool:
    """Whether `generator` has instance norms with per-image statistics (what holding changes)."""
    return any(_per_image(m) for m in generator.modules())


def _per_image(module: nn.Module) -> bool:
    return isinstance(module, nn.InstanceNorm2d) and not module.track_running_stats


class HeldInstanceNorm(nn.Module):
    """InstanceNorm2d whose statistics are averaged over the frames before (see the module)."""

    def __init__(self, norm: nn.InstanceNorm2d, hold: float):
        super().__init__()
        self.hold = hold
        self.eps = norm.eps
        self.channels = norm.num_features
        self.weight, self.bias = norm.weight, norm.bias  # None without affine
        self.starts: Sequence[bool] | None = None  # set by HeldNorms for each batch
        # HeldStep: (history weight, held mean, held variance) in, the new ones out
        self.given: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.taken: tuple[torch.Tensor, torch.Tensor] | None = None
        self._mean: torch.Tensor | None = None  # the held statistics (C each), from the scene's first frame on
        self._var: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in float32 under fp16 autocast too, as torch's instance norm is
        x32 = x.float()
        var, mean = torch.var_mean(x32, dim=(2, 3), unbiased=False)  # N x C each
        if self.given is not None:
            history, held_mean, held_var = self.given
            mean = history * held_mean + (1 - history) * mean
            var = history * held_var + (1 - history) * var
            self.taken = (mean[0], var[0])
        elif self.starts is not None:
            mean, var = self._held(mean, var)
        y = (x32 - mean[..., None, None]) * torch.rsqrt(var[..., None, None] + self.eps)
        if self.weight is not None:
            y = y * self.weight[:, None, None] + self.bias[:, None, None]
        return y.to(x.dtype)

    def _held(self, mean: torch.Tensor, var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        means, variances = [], []
        for n, start in enumerate(self.starts):
            if start or self._mean is None:
                self._mean, self._var = mean[n], var[n]
            else:
                self._mean = self.hold * self._mean + (1 - self.hold) * mean[n]
                self._var = self.hold * self._var + (1 - self.hold) * var[n]
            means.append(self._mean)
            variances.append(self._var)
        return torch.stack(means), torch.stack(variances)


def check_scene_flags(starts: Sequence[bool] | None, batch: int) -> None:
    """A batch's scene flags (None: unrelated images) must name each of its images."""
    if starts is not None and len(starts) != batch:
        raise ValueError(f"{len(starts)} scene flags for a batch of {batch}")


class HeldNorms(nn.Module):
    """A copy of `generator` with its per-image instance norms held along the clip.

    hold: the history's weight in the average, in [0, 1]; 0 is plain instance norm, 1 keeps
        the statistics of the scene's first frame.
    Call `restart(starts)` before each batch of a clip's frames (in order); a call without
    it normalises each image alone."""

    def __init__(self, generator: nn.Module, hold: float):
        super().__init__()
        if not 0.0 <= hold <= 1.0:
            raise ValueError(f"the held statistics' weight must be in [0, 1], got {hold}")
        self.hold = hold
        self.generator = copy.deepcopy(generator)
        self.norms: list[HeldInstanceNorm] = []
        for parent in list(self.generator.modules()):
            for name, child in parent.named_children():
                if _per_image(child):
                    held = HeldInstanceNorm(child, hold)
                    setattr(parent, name, held)
                    self.norms.append(held)
        self._starts: list[bool] | None = None

    def restart(self, starts: Sequence[bool]) -> None:
        """Which images of the next batch begin a scene (the rest continue the one before)."""
        self._starts = list(starts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        starts, self._starts = self._starts, None
        check_scene_flags(starts, x.shape[0])
        for norm in self.norms:
            norm.starts = starts
        return self.generator(x)

    def step(self) -> HeldStep:
        """This network with the statistics passed in and out (for export)."""
        return HeldStep(self)

    @property
    def state_size(self) -> int:
        """The length of HeldStep's state: every held norm's mean and variance."""
        return 2 * sum(norm.channels for norm in self.norms)


class HeldStep(nn.Module):
    """One frame (batch 1) through HeldNorms' generator with the state outside:
    forward(x, history, state) -> (y, new state). state: every held norm's mean then variance,
    in one vector (what the previous frame returned); history: the held statistics' weight (0
    at a scene's first frame, which takes its own statistics; else HeldNorms' hold)."""

    def __init__(self, held: HeldNorms):
        super().__init__()
        self.held = held

    def forward(self, x: torch.Tensor, history: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        norms = self.held.norms
        parts = torch.split(state, [norm.channels for norm in norms for _ in range(2)])
        for i, norm in enumerate(norms):
            norm.given = (history, parts[2 * i], parts[2 * i + 1])  # over any `starts`
        try:
            y = self.held.generator(x)
            return y, torch.cat([t for norm in norms for t in norm.taken])
        finally:
            for norm in norms:
                norm.given = norm.taken = None
