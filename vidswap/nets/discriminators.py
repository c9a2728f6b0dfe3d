"""The 70x70 PatchGAN discriminator of pix2pix/CycleGAN/CUT."""

from __future__ import annotations

import torch
from torch import nn

from vidswap.nets.base import Network
from vidswap.nets.generators import norm_layer


class PatchDiscriminator(Network):
    """n_layers stride-2 convs then two stride-1 convs; one logit per overlapping patch.

    n_layers=3 gives a 70x70 receptive field; ndf=64 has 2,764,737 parameters. norm
    "instance" is the reference's; "none" keeps each image's overall contrast and brightness
    visible to the discriminator, which instance norm over a small crop's few patches hides."""

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=True),
                norm_layer(norm, ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
