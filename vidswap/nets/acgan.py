"""The two-step AC-GAN translator of Dong et al. 2017 (DCGAN-style networks).

Step 1 trains G(z, c) against a discriminator with a real/fake head and a class
(domain) head; step 2 trains an encoder E (the discriminator's trunk and a linear
head) so that E(G(z, c)) = z. A translation is G(E(x), c_target).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _stages(size: int) -> int:
    n = math.log2(size / 4)
    if n < 1 or n != int(n):
        raise ValueError(f"AC-GAN size must be a power of two >= 8, got {size}")
    return int(n)


class ACGANGenerator(nn.Module):
    """z and a learned class embedding, concatenated, up-sampled from 4x4 to size x size."""

    def __init__(self, size: int = 64, z_dim: int = 100, n_classes: int = 2, embed_dim: int = 50, ngf: int = 64):
        super().__init__()
        n = _stages(size)
        self.embed = nn.Embedding(n_classes, embed_dim)
        c = ngf * 2 ** (n - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim + embed_dim, c, 4, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, 3, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, self.embed(c)], dim=1)
        return self.net(h[:, :, None, None])


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


class ACGANDiscriminator(nn.Module):
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


class ACGANEncoder(nn.Module):
    """The discriminator's trunk and a linear head to z."""

    def __init__(self, size: int = 64, z_dim: int = 100, ndf: int = 64):
        super().__init__()
        self.trunk = DCGANTrunk(size, ndf)
        self.head = nn.Linear(self.trunk.out_channels * 16, z_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x).flatten(1))


class ACGANTranslator(nn.Module):
    """Image -> image: G(E(x), target_class), so it is called like any other generator.

    Inputs of another size are resized to the model's size and the output back."""

    def __init__(self, size: int = 64, z_dim: int = 100, n_classes: int = 2, embed_dim: int = 50, ngf: int = 64,
                 ndf: int = 64, target_class: int = 1):
        super().__init__()
        self.kwargs = dict(size=size, z_dim=z_dim, n_classes=n_classes, embed_dim=embed_dim, ngf=ngf, ndf=ndf,
                           target_class=target_class)  # saved in the model card to rebuild it
        self.size = size
        self.target_class = target_class
        self.encoder = ACGANEncoder(size, z_dim, ndf)
        self.generator = ACGANGenerator(size, z_dim, n_classes, embed_dim, ngf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if (h, w) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        c = torch.full((x.shape[0],), self.target_class, dtype=torch.long, device=x.device)
        y = self.generator(self.encoder(x), c)
        if (h, w) != (self.size, self.size):
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False).clamp(-1, 1)
        return y
