"""The face-swap community's autoencoders, in two layouts.

DF (deepfakes, faceswap's "Original" model): one encoder shared by both people and one decoder
per person. Each decoder only ever learns to draw its own person, from a code the shared
encoder must make alike for both; a swap is the other person's decoder on a face's code.

LIAE (DeepFaceLab's): one encoder, one decoder, both shared, and two dense "inters" between
them: a shared one and one of the video's person (A) only. A is drawn from [own inter, shared
inter], B from [shared, shared]; a swap draws A's face the way B is drawn. The decoder learns
every pose and expression of both people, which is why LIAE is the layout DeepFaceLab
recommends for following the video's face.

Encoder: 5x5 stride-2 convolutions down to 4x4, then (an inter) a dense bottleneck and back, one
upscale to 8x8; decoder: upscales (a 3x3 convolution to four times the channels, then pixel
shuffle) to the crop's size and a 5x5 convolution to RGB.
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


def _down_channels(size: int, ngf: int) -> int:
    return ngf * min(2 ** (_stages(size) - 1), 8)


class SwapDown(nn.Sequential):
    """size x size RGB -> 4x4 features: the convolutions every layout's encoder starts with."""

    def __init__(self, size: int = 64, ngf: int = 32):
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(_stages(size)):
            c = ngf * min(2**i, 8)
            layers += [nn.Conv2d(c_in, c, 5, 2, 2), nn.LeakyReLU(0.1)]
            c_in = c
        super().__init__(*layers)


class SwapInter(nn.Module):
    """4x4 features -> a code, 8x8 with 4 * ngf channels: a dense bottleneck and one upscale."""

    def __init__(self, size: int = 64, ngf: int = 32, latent: int = 256):
        super().__init__()
        self.channels = _down_channels(size, ngf)
        self.bottleneck = nn.Sequential(
            nn.Flatten(), nn.Linear(self.channels * 16, latent), nn.Linear(latent, self.channels * 16)
        )
        self.up = _upscale(self.channels, 4 * ngf)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.up(self.bottleneck(h).view(-1, self.channels, 4, 4))


class SwapEncoder(nn.Module):
    """DF: size x size RGB -> the shared code, 8x8 with 4 * ngf channels."""

    def __init__(self, size: int = 64, ngf: int = 32, latent: int = 256):
        super().__init__()
        self.down = SwapDown(size, ngf)
        inter = SwapInter(size, ngf, latent)  # its layers stay this module's own (saved models' names)
        self.bottleneck, self.up, self.channels = inter.bottleneck, inter.up, inter.channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bottleneck(self.down(x)).view(-1, self.channels, 4, 4)
        return self.up(h)


class SwapDecoder(nn.Module):
    """A code (8x8, code_channels: 4 * ngf by default) -> a face, size x size RGB in [-1, 1]."""

    def __init__(self, size: int = 64, ngf: int = 32, code_channels: int | None = None):
        super().__init__()
        layers: list[nn.Module] = []
        c = 4 * ngf
        c_in = code_channels or c
        for _ in range(_stages(size) - 1):  # 8 -> size
            c = max(c // 2, 8)
            layers.append(_upscale(c_in, c))
            c_in = c
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


class LiaeTranslator(Network):
    """Image -> image in the LIAE layout: the shared decoder on [own inter, shared inter] of the
    encoder's features (own_inter: the video's person, A) or on [shared, shared] (B, and so a
    swap). Inputs of another size are resized to the model's size and back."""

    def __init__(self, size: int = 64, ngf: int = 32, latent: int = 256, own_inter: bool = False):
        super().__init__()
        self.size = size
        self.down = SwapDown(size, ngf)
        self.inter = SwapInter(size, ngf, latent)
        self.own_inter = SwapInter(size, ngf, latent) if own_inter else None
        self.decoder = SwapDecoder(size, ngf, 8 * ngf)

    def draw(self, h: torch.Tensor) -> torch.Tensor:
        shared = self.inter(h)
        first = shared if self.own_inter is None else self.own_inter(h)
        return self.decoder(torch.cat([first, shared], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return at_size(x, self.size, lambda x: self.draw(self.down(x)))
