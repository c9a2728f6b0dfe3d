"""The two-step AC-GAN translator (Dong et al. 2017), both steps in one run.

Step 1 (the first 1 - acgan.encoder_steps of the steps): a class-conditional GAN on both
domains (class 0 = A, 1 = B) whose discriminator has a real/fake and a class head.
Step 2: G frozen, an encoder E (the discriminator's trunk, started from its weights,
and a linear head) learns E(G(z, c)) = z. Export: G(E(x), c_target) in one module."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from trainer.methods.base import MethodSpec, require
from trainer.methods.common import adam, frozen, init_weights, scalars
from trainer.runtime import Runtime
from trainer.temporal import temporal_loss
from vidswap.nets.acgan import ACGANDiscriminator, ACGANEncoder, ACGANGenerator, ACGANTranslator


@dataclass
class ACGANConfig:
    z_dim: int = 100
    encoder_steps: float = 0.25  # fraction of train.steps spent on step 2 (the encoder)
    lambda_cls: float = 1.0


def validate(cfg) -> None:
    size = cfg.data.size
    require(size & (size - 1) == 0, f"AC-GAN needs a power-of-two data.size, got {size}")
    require(0 < cfg.acgan.encoder_steps < 1, "acgan.encoder_steps must be a fraction between 0 and 1")
    require(cfg.acgan.z_dim >= 1, f"acgan.z_dim must be >= 1, got {cfg.acgan.z_dim}")


class ACGAN:
    def __init__(self, cfg, rt: Runtime):
        self.cfg, self.rt = cfg, rt
        n, a, size = cfg.net, cfg.acgan, cfg.data.size
        nets = {
            "G": ACGANGenerator(size, a.z_dim, 2, n.ngf),
            "D": ACGANDiscriminator(size, 2, n.ndf),
            "E": ACGANEncoder(size, a.z_dim, n.ndf),
        }
        self.modules = {k: rt.prepare(init_weights(v, n.init_gain, n.init)) for k, v in nets.items()}
        self.train_nets = {k: rt.wrap(v) for k, v in self.modules.items()}
        self.optimizers = {k: adam([v], cfg) for k, v in self.modules.items()}
        gan_steps = max(1, round(cfg.train.steps * (1 - a.encoder_steps)))
        self.phases = [gan_steps, cfg.train.steps]
        # the translation G(E(x), c) exists from step 2 on: the regulariser trains E there (G frozen)
        self.temporal = temporal_loss(cfg, rt)

    def _codes(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """b codes of each class: z ~ N(0, I) and labels 0...0 1...1."""
        z = torch.randn(2 * b, self.cfg.acgan.z_dim, device=self.rt.device)
        c = torch.arange(2, device=self.rt.device).repeat_interleave(b)
        return z, c

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        if step <= self.phases[0]:
            return self._gan_step(batch)
        if step == self.phases[0] + 1:  # step 2 starts from the trained discriminator's features
            self.modules["E"].trunk.load_state_dict(self.modules["D"].trunk.state_dict())
        return self._encoder_step(batch)

    def _gan_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        rt, lam, m, t = self.rt, self.cfg.acgan.lambda_cls, self.modules, self.train_nets
        m["G"].train()
        real = rt.inputs(torch.cat([batch["A"], batch["B"]]))
        b = batch["A"].shape[0]
        z, c = self._codes(b)  # real batch and codes share the label layout
        with rt.autocast():
            fake = t["G"](z, c)
            # real and fake in separate calls: with batch norm, a mixed batch lets D tell them apart
            # by batch statistics that the generator step (fakes only) never shows it
            adv_r, cls_r = t["D"](real)
            adv_f, cls_f = t["D"](fake.detach())
        losses = {
            "D_adv": F.binary_cross_entropy_with_logits(adv_r.float(), torch.ones_like(adv_r, dtype=torch.float))
            + F.binary_cross_entropy_with_logits(adv_f.float(), torch.zeros_like(adv_f, dtype=torch.float)),
            "D_cls": (F.cross_entropy(cls_r.float(), c) + F.cross_entropy(cls_f.float(), c)) * lam,
        }
        rt.step(losses["D_adv"] + losses["D_cls"], self.optimizers["D"])
        with rt.autocast(), frozen(m["D"]):
            adv_g, cls_g = m["D"](fake)
        losses["G_adv"] = F.binary_cross_entropy_with_logits(adv_g.float(), torch.ones_like(adv_g, dtype=torch.float))
        losses["G_cls"] = F.cross_entropy(cls_g.float(), c) * lam
        rt.step(losses["G_adv"] + losses["G_cls"], self.optimizers["G"])
        return scalars(losses)

    def _encoder_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        rt, m, t = self.rt, self.modules, self.train_nets
        m["G"].eval()  # E learns to invert the generator exactly as it will run at translation
        z, c = self._codes(batch["A"].shape[0])
        with torch.no_grad(), rt.autocast():
            x = m["G"](z, c)
        with rt.autocast():
            z_hat = t["E"](x)
        losses = {"E_mse": F.mse_loss(z_hat.float(), z)}
        if self.temporal:
            with rt.autocast(), frozen(m["G"]):
                for domain, target in (("A", 1), ("B", 0)):
                    real = rt.inputs(batch[domain])
                    translate = partial(self._translate, target=target)
                    losses[f"temporal_{domain}"] = self.temporal(translate, real, translate(real), batch, domain)
        rt.step(sum(losses.values()), self.optimizers["E"])
        return scalars(losses)

    def _translate(self, x: torch.Tensor, target: int) -> torch.Tensor:
        """G(E(x), target) through the training networks (what the translator runs)."""
        code = torch.full((x.shape[0],), target, device=x.device)
        return self.modules["G"](self.train_nets["E"](x), code)

    def _translator(self, target_class: int) -> ACGANTranslator:
        n, a = self.cfg.net, self.cfg.acgan
        tr = ACGANTranslator(self.cfg.data.size, a.z_dim, 2, n.ngf, n.ndf, target_class)
        tr.encoder.load_state_dict(self.modules["E"].state_dict())
        tr.generator.load_state_dict(self.modules["G"].state_dict())
        return tr.to(self.rt.device).eval()

    def sample(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        real_A = self.rt.inputs(batch["A"])
        with self.rt.autocast():
            return [real_A, self._translator(1)(real_A), self._translator(0)(real_A)]

    def state(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        pass

    def export(self) -> dict[str, torch.nn.Module]:
        return {"AtoB": self._translator(1), "BtoA": self._translator(0)}


# the translator resizes its input to data.size and back
SPEC = MethodSpec(section="acgan", settings=ACGANConfig, build=ACGAN, validate=validate, fully_convolutional=False)
