"""The two-step AC-GAN translator of Dong et al. 2017 (DCGAN-style networks).

Step 1 trains a class-conditional G(z, c) against a discriminator with a real/fake
head and a class (domain) head; step 2 trains an encoder E (the discriminator's trunk
and a linear head) so that E(G(z, c)) = z. A translation is G(E(x), c_target).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vidswap.nets.base import Network, at_size


def _stages(size: int) -> int:
    n = math.log2(size / 4)
    if n < 1 or n != int(n):
        raise ValueError(f"AC-GAN size must be a power of two >= 8, got {size}")
    return int(n)


class ClassBatchNorm(nn.Module):
    """Batch norm whose scale and shift are looked up by class (conditional batch norm)."""

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Embedding(n_classes, channels)
        self.shift = nn.Embedding(n_classes, channels)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * self.scale(c)[:, :, None, None] + self.shift(c)[:, :, None, None]


class ACGANGenerator(Network):
    """z up-sampled from 4x4 to size x size (DCGAN layers); the class sets every layer's
    batch-norm scale and shift.

    The class enters every layer rather than as a code beside z: with the same z, the two
    classes then draw the same content in each domain's style, which the translation
    G(E(x), c_target) relies on. (A learned class code concatenated to z, at PyTorch's
    default N(0, 1) init, made the generator ignore z and draw one image for every z.)"""

    def __init__(self, size: int = 64, z_dim: int = 100, n_classes: int = 2, ngf: int = 64):
        super().__init__()
        n = _stages(size)
        c = ngf * 2 ** (n - 1)
        self.convs = nn.ModuleList([nn.ConvTranspose2d(z_dim, c, 4, 1, 0, bias=False)])
        self.norms = nn.ModuleList([ClassBatchNorm(c, n_classes)])
        for _ in range(n - 1):
            self.convs.append(nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False))
            self.norms.append(ClassBatchNorm(c // 2, n_classes))
            c //= 2
        self.to_rgb = nn.ConvTranspose2d(c, 3, 4, 2, 1)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = z[:, :, None, None]
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = F.relu(norm(conv(h), c))
        return torch.tanh(self.to_rgb(h))


class DCGANTrunk(nn.Module):
    """Stride-2 convolutions from size x size down to 4x4 (the discriminator's and encoder's body)."""

    def __init__(self, size: int = 64, ndf: int = 64):
        super().__init__()
        n = _stages(size)
        layers: list[nn.Module] = [nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = ndf
        for _ in range(n - 1):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c * 2), nn.LeakyReLU(0.2, True)]
            c *= 2
        self.net = nn.Sequential(*layers)
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ACGANDiscriminator(Network):
    """-> (real/fake logit [B], class logits [B, n_classes])."""

    def __init__(self, size: int = 64, n_classes: int = 2, ndf: int = 64):
        super().__init__()
        self.trunk = DCGANTrunk(size, ndf)
        c = self.trunk.out_channels
        self.adv = nn.Conv2d(c, 1, 4, 1, 0)
        self.cls = nn.Conv2d(c, n_classes, 4, 1, 0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.adv(h).flatten(), self.cls(h).flatten(1)


class ACGANEncoder(Network):
    """The discriminator's trunk and a linear head to z."""

    def __init__(self, size: int = 64, z_dim: int = 100, ndf: int = 64):
        super().__init__()
        self.trunk = DCGANTrunk(size, ndf)
        self.head = nn.Linear(self.trunk.out_channels * 16, z_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x).flatten(1))


class ACGANTranslator(Network):
    """Image -> image: G(E(x), target_class), so it is called like any other generator.

    Inputs of another size are resized to the model's size and the output back."""

    def __init__(
        self, size: int = 64, z_dim: int = 100, n_classes: int = 2, ngf: int = 64, ndf: int = 64, target_class: int = 1
    ):
        super().__init__()
        self.size = size
        self.target_class = target_class
        self.encoder = ACGANEncoder(size, z_dim, ndf)
        self.generator = ACGANGenerator(size, z_dim, n_classes, ngf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return at_size(x, self.size, self._translate)

    def _translate(self, x: torch.Tensor) -> torch.Tensor:
        c = torch.full((x.shape[0],), self.target_class, dtype=torch.long, device=x.device)
        return self.generator(self.encoder(x), c)
