"""The CycleGAN ResNet generator (Zhu et al. 2017), also CUT's generator.

The layers form one nn.Sequential laid out exactly as the reference code without
anti-aliased sampling, so CUT's PatchNCE can tap layers 0,4,8,12,16 by index and the
parameter names match the official checkpoints' ("model.1.weight", ...).
"""

from __future__ import annotations

import torch
from torch import nn

from vidswap.nets.base import Network


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The reference code's --norm choice. Instance norm (its default) makes a network blind
    to each image's overall brightness and contrast; batch norm and none keep them."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, norm: str = "instance"):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=True),
            norm_layer(norm, dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=True),
            norm_layer(norm, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(Network):
    """c7s1-ngf, 2 stride-2 downsamplings, n_blocks residual blocks, 2 upsamplings, c7s1-3, tanh.

    Instance norm without affine parameters, so convolutions keep their biases (as the
    reference does); ngf=64 with 9 blocks has 11,378,179 parameters.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_blocks: int = 9,
                 n_downsampling: int = 2, norm: str = "instance"):
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=True),
            norm_layer(norm, ngf),
            nn.ReLU(True),
        ]
        for i in range(n_downsampling):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, c * 2, 3, stride=2, padding=1, bias=True), norm_layer(norm, c * 2), nn.ReLU(True)]
        width = ngf * 2**n_downsampling
        layers += [ResnetBlock(width, norm) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            c = ngf * 2 ** (n_downsampling - i)
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=True),
                norm_layer(norm, c // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    @staticmethod
    def layer_count(n_blocks: int, n_downsampling: int = 2) -> int:
        """Layers of the Sequential (what PatchNCE's layer indices may address)."""
        return 4 + 3 * n_downsampling + n_blocks + 3 * n_downsampling + 3

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
