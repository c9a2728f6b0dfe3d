"""Reading a ResNet generator from a state dict by the order and shapes of its tensors, whatever
its attribute names, so checkpoints of the official CycleGAN and CUT code and of the many
re-implementations rebuild as vidswap's ResnetGenerator.

The tensors come module by module in the order the network runs them (state_dict() follows
registration order), and each part has its own shapes:
  stem         7x7 convolution, in_channels -> ngf
  downsampling 3x3 convolution c -> 2c (CUT: then a saved [2c, 1, 3, 3] blur filter)
  residual     two 3x3 convolutions c -> c
  upsampling   c -> c/2: a transposed convolution (weight [c, c/2, 3, 3]), or a convolution
               (weight [c/2, c, 3, 3]) after a resize (CUT: after a saved [c, 1, 4, 4] blur)
  output       7x7 convolution ngf -> out_channels
each convolution but the last optionally followed by a norm's 1-D tensors. What weights cannot
show (paddings, the resize's mode, some norms) comes from the caller's `Hints`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from vidswap.choices import ImportedNorm, Padding, Resize, choices
from vidswap.errors import ModelError
from vidswap.nets.generators import ResnetGenerator, binomial_kernel

NORM_LEAVES = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
STATISTICS = ("running_mean", "running_var")


@dataclass(frozen=True)
class Hints:
    """What the weights cannot tell: the residual blocks' padding, the 3x3 downsampling
    convolutions' and upsampling convolutions' paddings, the resize before an upsampling
    convolution, and the norm (None: read from the tensors, as the reference code pairs them
    with convolution biases)."""

    padding: str = "reflect"
    down_padding: str = "zero"
    up_padding: str = "zero"
    upsample: str = "nearest"
    norm: str | None = None

    def __post_init__(self):
        allowed = {"padding": choices(Padding), "down_padding": choices(Padding), "up_padding": choices(Padding),
                   "upsample": choices(Resize), "norm": (None, *choices(ImportedNorm))}  # fmt: skip
        for name, values in allowed.items():
            if getattr(self, name) not in values:
                raise ModelError(f"{name} {getattr(self, name)!r} is not one of {', '.join(map(str, values))}")


@dataclass
class Module:
    """One source module's tensors (leaf name -> tensor), in file order."""

    path: str
    tensors: dict[str, torch.Tensor]

    @property
    def first_key(self) -> str:
        return f"{self.path}.{next(iter(self.tensors))}" if self.path else next(iter(self.tensors))

    def describe(self) -> str:
        return f"{self.first_key!r} {tuple(next(iter(self.tensors.values())).shape)}"

    @property
    def is_conv(self) -> bool:
        weight = self.tensors.get("weight")
        return weight is not None and weight.ndim == 4 and set(self.tensors) <= {"weight", "bias"}

    @property
    def is_norm(self) -> bool:
        return set(self.tensors) <= NORM_LEAVES and all(t.ndim <= 1 for t in self.tensors.values())

    @property
    def is_blur(self) -> bool:
        return len(self.tensors) == 1 and "weight" not in self.tensors and next(iter(self.tensors.values())).ndim == 4

    def channels(self) -> int | None:
        """A norm's channels: the length its 1-D tensors share (None if they do not)."""
        lengths = {t.shape[0] for t in self.tensors.values() if t.ndim == 1}
        return lengths.pop() if len(lengths) == 1 else None


def modules_of(state: dict[str, torch.Tensor]) -> list[Module]:
    """The state dict's tensors grouped by owning module, in the order they first appear."""
    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        owner, _, leaf = key.rpartition(".")
        grouped.setdefault(owner, {})[leaf] = value
    return [Module(path, tensors) for path, tensors in grouped.items()]


class Unplaced(ModelError):
    """A tensor with no place in a ResNet generator; `placed` counts the modules read before it
    (the caller reports the attempt that got furthest)."""

    def __init__(self, message: str, placed: int):
        super().__init__(message)
        self.placed = placed


@dataclass
class Reading:
    """The source modules in the roles the structure gave them."""

    modules: list[Module]
    at: int = 0
    convs: list[Module] = field(default_factory=list)
    norms: list[Module] = field(default_factory=list)  # only those that hold tensors
    unnormed: list[Module] = field(default_factory=list)  # convolutions (but the last) with no norm tensors after
    upsampling: set[str] = field(default_factory=set)

    def peek(self) -> Module | None:
        return self.modules[self.at] if self.at < len(self.modules) else None

    def fail(self, expected: str) -> Unplaced:
        module = self.peek()
        found = f"cannot place {module.describe()}" if module else "it ends"
        return Unplaced(f"{found}: expected {expected}", self.at)

    def conv(self, expected: str, shape: tuple[int, ...], alternative: str = "", transposed: bool = False) -> None:
        module = self.peek()
        if module is None or not module.is_conv or tuple(module.tensors["weight"].shape) != shape:
            raise self.fail(f"{expected} of weight shape {shape}{alternative}")
        bias = module.tensors.get("bias")
        if bias is not None and tuple(bias.shape) != (shape[1 if transposed else 0],):
            raise Unplaced(
                f"cannot place '{module.path}.bias' {tuple(bias.shape)}: not the bias of {expected}", self.at
            )
        self.at += 1
        self.convs.append(module)

    def optional_norm(self, channels: int) -> None:
        module = self.peek()
        if module is not None and module.is_norm and module.channels() == channels:
            self.norms.append(module)
            self.at += 1
        else:
            self.unnormed.append(self.convs[-1])

    def optional_blur(self, channels: int, size: int) -> bool:
        module = self.peek()
        if module is None or not module.is_blur:
            return False
        kernel = next(iter(module.tensors.values()))
        expected = (4.0 if size == 4 else 1.0) * binomial_kernel(size)  # the upsampling's, x4, keeps the mean
        if tuple(kernel.shape) != (channels, 1, size, size) or not torch.allclose(kernel.float(), expected, atol=1e-6):
            raise Unplaced(
                f"the blur filter {module.first_key!r} {tuple(kernel.shape)} is not the binomial "
                f"{size}x{size} one of CUT's anti-aliased layers (expected {(channels, 1, size, size)})",
                self.at,
            )
        self.at += 1  # a fixed filter: checked, and vidswap's blur layers hold their own
        return True


def read_structure(state: dict[str, torch.Tensor], hints: Hints) -> tuple[dict[str, Any], Reading]:
    """ResnetGenerator's arguments and the source modules in their roles; Unplaced names the
    first tensor that does not fit (or says what is missing at the end)."""
    modules = modules_of(state)
    if not modules:
        raise Unplaced("it holds no tensors", 0)
    reading = Reading(modules)
    first = modules[0]
    if first.is_conv and first.tensors["weight"].shape[-1] == 4:
        raise Unplaced(
            f"{first.describe()} is a 4x4 convolution, as the U-Net generators (unet_128, unet_256) "
            "begin: U-Net generators are not supported, only ResNet ones",
            0,
        )
    if not first.is_conv or first.tensors["weight"].shape[-1] != 7:
        raise reading.fail("a 7x7 convolution first")
    ngf, in_channels = first.tensors["weight"].shape[:2]
    reading.conv("the 7x7 input convolution", (ngf, in_channels, 7, 7))
    reading.optional_norm(ngf)

    channels, n_down, antialias = ngf, 0, []
    while (
        (nxt := reading.peek()) is not None
        and nxt.is_conv
        and nxt.tensors["weight"].shape == (2 * channels, channels, 3, 3)
    ):
        reading.conv("a downsampling convolution", (2 * channels, channels, 3, 3))
        reading.optional_norm(2 * channels)
        antialias.append(reading.optional_blur(2 * channels, 3))
        channels, n_down = 2 * channels, n_down + 1
    if len(set(antialias)) > 1:
        raise Unplaced("some of its downsamplings are anti-aliased (blur filters) and some are not", reading.at)

    n_blocks = 0
    while (
        (nxt := reading.peek()) is not None
        and nxt.is_conv
        and nxt.tensors["weight"].shape == (channels, channels, 3, 3)
    ):
        reading.conv(f"residual block {n_blocks + 1}'s first convolution", (channels, channels, 3, 3))
        reading.optional_norm(channels)
        reading.conv(f"residual block {n_blocks + 1}'s second convolution", (channels, channels, 3, 3))
        reading.optional_norm(channels)
        n_blocks += 1

    for i in range(n_down):
        half = channels // 2
        blurred = reading.optional_blur(channels, 4)
        nxt = reading.peek()
        transposed = (channels, half, 3, 3)
        if not blurred and nxt is not None and nxt.is_conv and nxt.tensors["weight"].shape == transposed:
            reading.conv(f"upsampling {i + 1}'s transposed convolution", transposed, transposed=True)
            reading.upsampling.add("transposed")
        else:
            alternative = "" if blurred else f" (or a transposed one of weight shape {transposed})"
            reading.conv(f"upsampling {i + 1}'s convolution", (half, channels, 3, 3), alternative)
            reading.upsampling.add("blur" if blurred else hints.upsample)
        reading.optional_norm(half)
        channels = half
    if len(reading.upsampling) > 1:
        raise Unplaced(f"its upsamplings differ ({', '.join(sorted(reading.upsampling))})", reading.at)

    out = reading.peek()
    out_channels = out.tensors["weight"].shape[0] if out is not None and out.is_conv else 3
    expected = "a residual block's or the output 7x7 convolution" if n_down == 0 else "the output 7x7 convolution"
    reading.conv(expected, (out_channels, ngf, 7, 7))
    if reading.peek() is not None:
        raise reading.fail("nothing after the output convolution")
    return {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "ngf": ngf,
        "n_blocks": n_blocks,
        "n_downsampling": n_down,
        "norm": read_norm(reading, hints),
        "antialias": bool(antialias and antialias[0]),
        "upsample": next(iter(reading.upsampling), "transposed"),
        "padding": hints.padding,
        "down_padding": hints.down_padding,
        "up_padding": hints.up_padding,
    }, reading


def read_norm(reading: Reading, hints: Hints) -> str:
    """The norm the tensors show (or the hint, checked against them). Called once every tensor
    has a place: an error here is of a file read to its end."""
    if reading.norms and reading.unnormed:
        raise Unplaced(
            f"{reading.unnormed[0].describe()} has no norm after it, unlike the other convolutions", reading.at
        )
    leaves = set().union(*(m.tensors for m in reading.norms)) - {"num_batches_tracked"}
    for module in reading.norms:
        if set(module.tensors) - {"num_batches_tracked"} != leaves:
            raise Unplaced(
                f"cannot place {module.describe()}: its norm lacks some of {', '.join(sorted(leaves))}", reading.at
            )
    affine, statistics = "weight" in leaves, all(s in leaves for s in STATISTICS)
    if hints.norm is not None:
        needs = {"instance_affine": affine, "instance_running": statistics, "batch": affine and statistics,
                 "instance": not affine, "none": not reading.norms}[hints.norm]  # fmt: skip
        if not needs:
            raise Unplaced(
                f"its norm tensors ({', '.join(sorted(leaves)) or 'none'}) do not fit --norm {hints.norm}", reading.at
            )
        return hints.norm
    biased = "bias" in reading.convs[0].tensors
    # the reference code gives convolutions a bias exactly when instance norm follows, which tells
    # an old affine instance norm's saved statistics from batch norm's
    if affine:
        return "batch" if statistics and not biased else "instance_affine"
    return "instance" if biased or reading.norms else "none"


def fitted_state(reading: Reading, net: ResnetGenerator) -> dict[str, torch.Tensor]:
    """`net`'s state dict filled from the source modules in their roles: a convolution saved
    without bias gets a zero one; statistics a norm does not use are left out."""
    state = net.state_dict()
    convs = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    norms = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d | nn.BatchNorm2d)]
    assert len(convs) == len(reading.convs), "read_structure and ResnetGenerator disagree"
    for name, source in zip(convs, reading.convs):
        state[f"{name}.weight"] = source.tensors["weight"]
        state[f"{name}.bias"] = source.tensors.get("bias", torch.zeros_like(state[f"{name}.bias"]))
    uses_tensors = [(n, m) for n, m in norms if m.affine or m.track_running_stats]
    for (name, norm), source in zip(uses_tensors, reading.norms):
        leaves = ["weight", "bias"] * norm.affine + list(STATISTICS) * norm.track_running_stats
        state.update({f"{name}.{leaf}": source.tensors[leaf] for leaf in leaves})
    return {key: value.to(state[key].dtype) if value.is_floating_point() else value for key, value in state.items()}


def build_generator(state: dict[str, torch.Tensor], hints: Hints) -> ResnetGenerator:
    """The generator a state dict holds, rebuilt as vidswap's ResnetGenerator (eval mode)."""
    kwargs, reading = read_structure(state, hints)
    net = ResnetGenerator(**kwargs)
    net.load_state_dict(fitted_state(reading, net))
    return net.eval()


def describe(kwargs: dict[str, Any]) -> str:
    upsample = kwargs.get("upsample") or ("blur" if kwargs["antialias"] else "transposed")
    down = "anti-aliased" if kwargs["antialias"] else "strided"
    return (f"ngf {kwargs['ngf']}, {kwargs['n_blocks']} blocks, {kwargs['norm']} norm, {down} downsampling, "
            f"{upsample} upsampling, {kwargs.get('padding', 'reflect')} padding")  # fmt: skip
