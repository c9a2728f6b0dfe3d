"""CUT and FastCUT (Park et al. 2020): one generator, a PatchGAN discriminator (LSGAN)
and PatchNCE between the input's and the translation's encoder features.

No work is repeated: the input's encoder features (PatchNCE keys) are taken from the
translation pass itself instead of a second encoder pass; only a flipped FastCUT step,
whose keys must come from the unflipped input, runs one extra no-grad encoder pass."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from trainer.methods.base import MethodSpec, require
from trainer.methods.common import adam, frozen, init_weights, lsgan, scalars
from trainer.runtime import Runtime
from trainer.temporal import temporal_loss
from vidswap.nets.discriminators import PatchDiscriminator
from vidswap.nets.generators import ResnetGenerator
from vidswap.nets.patchnce import PatchSampleMLP, patch_nce_loss


@dataclass
class CUTConfig:
    """CUT's settings; FastCUT is CUT with other defaults (configs/fastcut.yaml)."""

    lambda_gan: float = 1.0
    lambda_nce: float = 1.0
    nce_idt: bool = True  # identity NCE on target images (CUT; off for FastCUT)
    flip_equivariance: bool = False  # FastCUT
    nce_layers: list[int] = field(default_factory=lambda: [0, 4, 8, 12, 16])
    num_patches: int = 256
    nce_tau: float = 0.07
    mlp_units: int = 256


def validate(cfg) -> None:
    c = cfg.cut
    gen_layers = ResnetGenerator.layer_count(cfg.net.n_blocks, cfg.net.n_downsampling, cfg.net.antialias)
    require(
        len(c.nce_layers) > 0 and all(0 <= i < gen_layers for i in c.nce_layers),
        f"cut.nce_layers must index the generator's {gen_layers} layers, got {c.nce_layers}",
    )
    require(c.num_patches >= 1 and c.mlp_units >= 1, "cut.num_patches and cut.mlp_units must be >= 1")
    require(c.nce_tau > 0, f"cut.nce_tau must be > 0, got {c.nce_tau}")


class CUT:
    def __init__(self, cfg, rt: Runtime):
        self.cfg, self.rt = cfg, rt
        n, c = cfg.net, cfg.cut
        G = ResnetGenerator(
            ngf=n.ngf, n_blocks=n.n_blocks, n_downsampling=n.n_downsampling, norm=n.norm, antialias=n.antialias
        )
        F = PatchSampleMLP(G.layer_channels(c.nce_layers), c.mlp_units)
        D = PatchDiscriminator(ndf=n.ndf, n_layers=n.d_layers, norm=n.d_norm)
        self.modules = {
            k: rt.prepare(init_weights(v, n.init_gain, n.init)) for k, v in {"G": G, "F": F, "D": D}.items()
        }
        self.train_nets = {k: rt.wrap(v) for k, v in self.modules.items()}
        # G and the projection head share Adam settings, so one optimizer steps both
        self.optimizers = {"G": adam([self.modules["G"], self.modules["F"]], cfg), "D": adam([self.modules["D"]], cfg)}
        self.phases = [cfg.train.steps]
        self.temporal = temporal_loss(cfg, rt)
        # the translation's and the identity's PatchNCE queries come from one encoder call (a batch of
        # two runs faster than two of one), unless batch norm would then mix the two images' statistics
        self.one_query_pass = c.nce_idt and not any(isinstance(x, nn.BatchNorm2d) for x in G.modules())

    def _nce(self, feats_q: list[torch.Tensor], feats_k: list[torch.Tensor], batch_size: int) -> torch.Tensor:
        c = self.cfg.cut
        keys, ids = self.train_nets["F"](feats_k, c.num_patches)
        queries, _ = self.train_nets["F"](feats_q, c.num_patches, ids)
        total = sum(patch_nce_loss(q, k, batch_size, c.nce_tau) for q, k in zip(queries, keys, strict=True))
        return total * c.lambda_nce / len(keys)

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        rt, c, m, t = self.rt, self.cfg.cut, self.modules, self.train_nets
        layers = c.nce_layers
        real_A, real_B = rt.inputs(batch["A"]), rt.inputs(batch["B"])
        b = real_A.shape[0]
        # every process of a DDP run must flip alike: a flipped step makes one more generator
        # pass, and on GPUs batch norms synchronised in some ranks' passes only would hang them
        flipped = c.flip_equivariance and bool(np.random.default_rng([self.cfg.train.seed, step]).random() < 0.5)
        src = real_A.flip(3) if flipped else real_A
        with rt.autocast():
            out, feats = t["G"](torch.cat([src, real_B]) if c.nce_idt else src, layers)
            fake_B = out[:b]
        with rt.autocast():  # discriminator: real and fake in one call
            pred = t["D"](torch.cat([real_B, fake_B.detach()]))
        losses = {"D": 0.5 * (lsgan(pred[:b], True) + lsgan(pred[b:], False))}
        rt.step(losses["D"], self.optimizers["D"])

        with rt.autocast(), frozen(m["D"]):
            losses["G_GAN"] = lsgan(m["D"](fake_B), True) * c.lambda_gan
            if flipped:  # keys from the unflipped input; no gradient flows through keys
                with torch.no_grad():
                    _, keys = m["G"](real_A, layers, encode_only=True)
            else:
                keys = [f[:b] for f in feats]
            if self.one_query_pass:
                _, both = t["G"](out, layers, encode_only=True)
                queries, queries_y = [q[:b] for q in both], [q[b:] for q in both]
            else:
                _, queries = t["G"](fake_B, layers, encode_only=True)
                if c.nce_idt:
                    _, queries_y = t["G"](out[b:], layers, encode_only=True)
            if flipped:
                queries = [q.flip(3) for q in queries]
            losses["NCE"] = self._nce(queries, keys, b)
            if c.nce_idt:
                losses["NCE_Y"] = self._nce(queries_y, [f[b:] for f in feats], b)
                nce = 0.5 * (losses["NCE"] + losses["NCE_Y"])
            else:
                nce = losses["NCE"]
            if self.temporal:
                losses["temporal"] = self.temporal(t["G"], src, fake_B, batch, "A", flipped)
        rt.step(losses["G_GAN"] + nce + losses.get("temporal", 0), self.optimizers["G"])
        return scalars(losses)

    def sample(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        real_A, real_B = self.rt.inputs(batch["A"]), self.rt.inputs(batch["B"])
        with self.rt.autocast():
            return [real_A, self.modules["G"](real_A), real_B, self.modules["G"](real_B)]

    def state(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        pass

    def export(self) -> dict[str, torch.nn.Module]:
        return {"AtoB": self.modules["G"]}


SPEC = MethodSpec(
    section="cut", settings=CUTConfig, build=CUT, validate=validate, fully_convolutional=True, inputs=("A",)
)
