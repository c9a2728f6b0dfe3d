"""The face-swap community's autoencoder (deepfakes, faceswap's "Original" model): one
encoder shared by both people and one decoder per person. Each decoder only ever learns to
draw its own person, from a code the shared encoder must make alike for both; a swap is the
other person's decoder on a face's code.

Encoder: 5x5 stride-2 convolutions down to 4x4, a dense bottleneck and back, one upscale to
8x8; decoder: upscales (a 3x3 convolution to four times the channels, then pixel shuffle)
to the crop's size and a 5x5 convolution to RGB.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vidswap.nets.base import Network, at_size


def _stages(size: int) -> int:
    n = math.log2(size / 4)
    if n < 2 or n != int(n):
        raise ValueError(f"the autoencoder's size must be a power of two >= 16, got {size}")
    return int(n)


def _upscale(c_in: int, c_out: int) -> nn.Sequential:
    conv = nn.Conv2d(c_in, c_out * 4, 3, padding=1)
    # ICNR (Aitken et al. 2017; faceswap uses it): the four sub-pixel filters of each output
    # channel start equal, so the shuffled output starts as a nearest-neighbour upscale and
    # training does not begin from (and keep) a checkerboard
    with torch.no_grad():
        conv.weight.copy_(conv.weight[::4].repeat_interleave(4, dim=0))
        conv.bias.copy_(conv.bias[::4].repeat_interleave(4))
    return nn.Sequential(conv, nn.LeakyReLU(0.1), nn.PixelShuffle(2))


class SwapEncoder(nn.Module):
    """size x size RGB -> the shared code, 8x8 with 4 * ngf channels."""

    def __init__(self, size: int = 64, ngf: int = 32, latent: int = 256):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(_stages(size)):
            c = ngf * min(2**i, 8)
            layers += [nn.Conv2d(c_in, c, 5, 2, 2), nn.LeakyReLU(0.1)]
            c_in = c
        self.down = nn.Sequential(*layers)
        self.bottleneck = nn.Sequential(nn.Flatten(), nn.Linear(c_in * 16, latent), nn.Linear(latent, c_in * 16))
        self.channels = c_in
        self.up = _upscale(c_in, 4 * ngf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bottleneck(self.down(x)).view(-1, self.channels, 4, 4)
        return self.up(h)


class SwapDecoder(nn.Module):
    """The shared code -> one person's face, size x size RGB in [-1, 1]."""

    def __init__(self, size: int = 64, ngf: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        c = 4 * ngf
        for _ in range(_stages(size) - 1):  # 8 -> size
            layers.append(_upscale(c, max(c // 2, 8)))
            c = max(c // 2, 8)
        self.net = nn.Sequential(*layers, nn.Conv2d(c, 3, 5, padding=2), nn.Tanh())

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code)


class CodeDiscriminator(nn.Module):
    """Training only (autoencoder.true_face): the shared 8x8 code -> a 4x4 map of scores, whose
    person's face it was coded from."""

    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(channels, channels, 3, 2, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(channels, 1, 1),
        )  # fmt: skip

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code)


class SwapTranslator(Network):
    """Image -> image: a person's decoder on the shared encoder's code, so it is called like
    any other generator. Inputs of another size are resized to the model's size and back."""

    def __init__(self, size: int = 64, ngf: int = 32, latent: int = 256):
        super().__init__()
        self.size = size
        self.encoder = SwapEncoder(size, ngf, latent)
        self.decoder = SwapDecoder(size, ngf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return at_size(x, self.size, lambda x: self.decoder(self.encoder(x)))
