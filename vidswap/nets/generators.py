"""The CycleGAN ResNet generator (Zhu et al. 2017), also CUT's generator.

The layers form one nn.Sequential laid out exactly as the reference code: CycleGAN's
transposed convolutions by default, the CUT repository's anti-aliased sampling with
antialias=True. So CUT's PatchNCE can tap layers 0,4,8,12,16 by index and the parameter
names match the official checkpoints' ("model.1.weight", ...).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vidswap.choices import Padding, Upsampling
from vidswap.nets.base import Network


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The reference code's --norm choice. Instance norm (its default) makes a network blind
    to each image's overall brightness and contrast; batch norm and none keep them."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    if kind == "instance_affine":  # per-channel scale and shift after the normalisation, as some forks train
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "instance_running":  # track_running_stats=True: at inference the saved statistics replace each image's
        return nn.InstanceNorm2d(channels, track_running_stats=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


def padding_layer(kind: str, size: int) -> nn.Module:
    if kind == "reflect":
        return nn.ReflectionPad2d(size)
    if kind == "replicate":
        return nn.ReplicationPad2d(size)
    return nn.ZeroPad2d(size)


def conv_padding_mode(kind: str) -> str:
    return "zeros" if kind == "zero" else kind


def binomial_kernel(size: int) -> torch.Tensor:
    """The size x size binomial blur (rows of Pascal's triangle), summing to 1."""
    row = torch.tensor([math.comb(size - 1, k) for k in range(size)], dtype=torch.float32)
    kernel = row[:, None] * row[None, :]
    return kernel / kernel.sum()


class BlurDownsample(nn.Module):
    """Halve the size without aliasing: a 3x3 binomial blur at stride 2 (BlurPool, Zhang 2019),
    as the CUT repository's Downsample. The kernel is fixed, so it is not saved with the weights."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("kernel", binomial_kernel(3).expand(channels, 1, 3, 3).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.kernel, stride=2, groups=x.shape[1])


class BlurUpsample(nn.Module):
    """Double the size without a checkerboard: zeros between the pixels, then a 4x4 binomial
    blur (times 4, keeping the mean), as the CUT repository's Upsample."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("kernel", 4 * binomial_kernel(4).expand(channels, 1, 4, 4).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        return F.conv_transpose2d(padded, self.kernel, stride=2, padding=2, groups=x.shape[1])[:, :, 1:-1, 1:-1]


def doubling(upsample: str, channels: int) -> nn.Module:
    if upsample == "blur":
        return BlurUpsample(channels)
    if upsample == "bilinear_aligned":
        return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
    return nn.Upsample(scale_factor=2, mode=upsample)


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, norm: str = "instance", padding: str = "reflect"):
        super().__init__()
        self.conv_block = nn.Sequential(
            padding_layer(padding, 1),
            nn.Conv2d(dim, dim, 3, bias=True),
            norm_layer(norm, dim),
            nn.ReLU(True),
            padding_layer(padding, 1),
            nn.Conv2d(dim, dim, 3, bias=True),
            norm_layer(norm, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(Network):
    """c7s1-ngf, 2 stride-2 downsamplings, n_blocks residual blocks, 2 upsamplings, c7s1-3, tanh.

    Instance norm without affine parameters, so convolutions keep their biases (as the
    reference does); ngf=64 with 9 blocks has 11,378,179 parameters, with or without antialias.
    antialias: each downsampling is a stride-1 convolution, norm, ReLU and a blur at stride 2;
    each upsampling a blur upsample then a convolution (CUT's default), instead of strided
    (transposed) convolutions, whose uneven overlap draws a checkerboard grid.
    Re-implementations differ in what weights cannot show, so these are arguments too:
    upsample (None: blur with antialias, else transposed), padding (the
    residual blocks' padding, reflect in the papers), down_padding and up_padding (the 3x3
    downsampling convolutions' and the convolutions after a resize: zero in the reference code).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        n_downsampling: int = 2,
        norm: str = "instance",
        antialias: bool = False,
        upsample: Upsampling | None = None,
        padding: Padding = "reflect",
        down_padding: Padding = "zero",
        up_padding: Padding = "zero",
    ):
        super().__init__()
        upsample = upsample or ("blur" if antialias else "transposed")
        down_mode, up_mode = conv_padding_mode(down_padding), conv_padding_mode(up_padding)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=True),
            norm_layer(norm, ngf),
            nn.ReLU(True),
        ]
        for i in range(n_downsampling):
            c = ngf * 2**i
            stride = 1 if antialias else 2
            layers += [
                nn.Conv2d(c, c * 2, 3, stride=stride, padding=1, bias=True, padding_mode=down_mode),
                norm_layer(norm, c * 2),
                nn.ReLU(True),
            ]
            if antialias:
                layers.append(BlurDownsample(c * 2))
        width = ngf * 2**n_downsampling
        layers += [ResnetBlock(width, norm, padding) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            c = ngf * 2 ** (n_downsampling - i)
            if upsample == "transposed":
                layers.append(nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=True))
            else:
                layers += [doubling(upsample, c), nn.Conv2d(c, c // 2, 3, padding=1, bias=True, padding_mode=up_mode)]
            layers += [norm_layer(norm, c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    @staticmethod
    def layer_count(n_blocks: int, n_downsampling: int = 2, antialias: bool = False) -> int:
        """Layers of the Sequential (what PatchNCE's layer indices may address); anti-aliasing adds
        a blur layer to each down- and upsampling."""
        per_sampling = 4 if antialias else 3
        return 4 + 2 * per_sampling * n_downsampling + n_blocks + 3

    def layer_channels(self, layers: list[int]) -> list[int]:
        """Channels of the output of each tapped layer (what a PatchNCE head needs)."""
        out, channels = [], self.model[1].in_channels
        for i, layer in enumerate(self.model):
            for m in layer.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    channels = m.out_channels
            if i in layers:
                out.append(channels)
        return out

    def forward(self, x: torch.Tensor, layers: list[int] | None = None, encode_only: bool = False):
        """The translation; with `layers`, (translation, activations after those layer indices)
        from the same pass. With encode_only the pass stops after the last tapped layer and
        the translation is None (PatchNCE needs only the encoder's features)."""
        if layers is None:
            return self.model(x)
        feats = []
        last = max(layers)
        for i, layer in enumerate(self.model):
            x = layer(x)
            if i in layers:
                feats.append(x)
            if encode_only and i == last:
                return None, feats
        return x, feats
