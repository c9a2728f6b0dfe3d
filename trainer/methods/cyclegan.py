"""CycleGAN (Zhu et al. 2017): two generators, two PatchGAN discriminators, LSGAN,
cycle and identity L1 losses, a history pool of generated images for the discriminators;
with train.recycle, Recycle-GAN's temporal predictors and losses (trainer/recycle.py)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trainer.methods.base import MethodSpec, require
from trainer.methods.common import adam, face_weights, frozen, image_l1, init_weights, lsgan, scalars
from trainer.recycle import predictor, recycle_losses
from trainer.runtime import Runtime
from trainer.temporal import temporal_loss
from vidswap.nets.discriminators import PatchDiscriminator
from vidswap.nets.generators import ResnetGenerator


@dataclass
class CycleGANConfig:
    lambda_cycle: float = 10.0
    lambda_idt: float = 0.5  # times lambda_cycle
    pool_size: int = 50


def validate(cfg) -> None:
    c = cfg.cyclegan
    require(c.lambda_cycle >= 0 and c.lambda_idt >= 0, "cyclegan.lambda_cycle and cyclegan.lambda_idt must be >= 0")
    require(c.pool_size >= 0, f"cyclegan.pool_size must be >= 0, got {c.pool_size}")


class ImagePool:
    """The discriminator sees, half the time, an older generated image instead of the newest
    (Shrivastava et al. 2017), which damps oscillation. Uses torch's RNG (checkpointed)."""

    def __init__(self, size: int):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif torch.rand(()) < 0.5:
                i = int(torch.randint(len(self.images), ()))
                out.append(self.images[i])
                self.images[i] = image
            else:
                out.append(image)
        return torch.stack(out)


class CycleGAN:
    def __init__(self, cfg, rt: Runtime):
        self.cfg, self.rt = cfg, rt
        n = cfg.net

        def generator():
            return rt.prepare(
                init_weights(
                    ResnetGenerator(
                        ngf=n.ngf,
                        n_blocks=n.n_blocks,
                        n_downsampling=n.n_downsampling,
                        norm=n.norm,
                        antialias=n.antialias,
                    ),
                    n.init_gain,
                    n.init,
                )
            )

        def discriminator():
            return rt.prepare(
                init_weights(PatchDiscriminator(ndf=n.ndf, n_layers=n.d_layers, norm=n.d_norm), n.init_gain, n.init)
            )

        # G_A: A -> B, judged by D_A (is it a real B?); G_B: B -> A, judged by D_B
        self.modules = {"G_A": generator(), "G_B": generator(), "D_A": discriminator(), "D_B": discriminator()}
        if cfg.train.recycle > 0:  # P_A, P_B: predict a clip's next frame in A, in B (trained with the generators)
            self.modules |= {p: rt.prepare(init_weights(predictor(n), n.init_gain, n.init)) for p in ("P_A", "P_B")}
        self.train_nets = {k: rt.wrap(v) for k, v in self.modules.items()}
        m = self.modules
        generators = [m[k] for k in ("G_A", "G_B", "P_A", "P_B") if k in m]
        self.optimizers = {"G": adam(generators, cfg), "D": adam([m["D_A"], m["D_B"]], cfg)}
        self.pools = {"fake_A": ImagePool(cfg.cyclegan.pool_size), "fake_B": ImagePool(cfg.cyclegan.pool_size)}
        self.phases = [cfg.train.steps]
        self.temporal = temporal_loss(cfg, rt)
        self.weights = face_weights(cfg, rt.device)

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        rt, c, m, t, w = self.rt, self.cfg.cyclegan, self.modules, self.train_nets, self.weights
        real_A, real_B = rt.inputs(batch["A"]), rt.inputs(batch["B"])
        b = real_A.shape[0]
        use_idt = c.lambda_idt > 0
        # D's weights need no gradients from the generator loss (the graph records that at forward time)
        with rt.autocast(), frozen(m["D_A"], m["D_B"]):
            # the identity pass G_A(B) rides in the same batch as G_A(A): one call, not two
            out_A = t["G_A"](torch.cat([real_A, real_B]) if use_idt else real_A)
            out_B = t["G_B"](torch.cat([real_B, real_A]) if use_idt else real_B)
            fake_B, fake_A = out_A[:b], out_B[:b]
            rec_A, rec_B = t["G_B"](fake_B), t["G_A"](fake_A)
            losses = {
                "G_A": lsgan(m["D_A"](fake_B), True),
                "G_B": lsgan(m["D_B"](fake_A), True),
                "cycle_A": image_l1(rec_A, real_A, w) * c.lambda_cycle,
                "cycle_B": image_l1(rec_B, real_B, w) * c.lambda_cycle,
            }
            if use_idt:
                losses["idt_A"] = image_l1(out_A[b:], real_B, w) * c.lambda_cycle * c.lambda_idt
                losses["idt_B"] = image_l1(out_B[b:], real_A, w) * c.lambda_cycle * c.lambda_idt
            if self.temporal:
                losses["temporal_A"] = self.temporal(t["G_A"], real_A, fake_B, batch, "A")
                losses["temporal_B"] = self.temporal(t["G_B"], real_B, fake_A, batch, "B")
            if "P_A" in t:
                losses |= self._recycle(batch, fake_B, fake_A)
        rt.step(sum(losses.values()), self.optimizers["G"])
        pool_B, pool_A = self.pools["fake_B"].query(fake_B), self.pools["fake_A"].query(fake_A)
        with rt.autocast():  # real and pooled fake in one discriminator call
            pred_A = t["D_A"](torch.cat([real_B, pool_B]))
            pred_B = t["D_B"](torch.cat([real_A, pool_A]))
        losses["D_A"] = 0.5 * (lsgan(pred_A[:b], True) + lsgan(pred_A[b:], False))
        losses["D_B"] = 0.5 * (lsgan(pred_B[:b], True) + lsgan(pred_B[b:], False))
        rt.step(losses["D_A"] + losses["D_B"], self.optimizers["D"])
        return scalars(losses)

    def _recycle(self, batch: dict[str, torch.Tensor], fake_B: torch.Tensor, fake_A: torch.Tensor):
        """Recycle-GAN's losses of both domains (G_A translates A to B: A's frames go through G_A, then P_B)."""
        t, weight, losses = self.train_nets, self.cfg.train.recycle, {}
        for x, y, translated in (("A", "B", fake_B), ("B", "A", fake_A)):
            frames = [self.rt.inputs(f) for f in batch[f"{x}_frames"].unbind(1)]
            nets = (t[f"G_{x}"], t[f"G_{y}"], t[f"P_{x}"], t[f"P_{y}"])
            recurrent, recycle = recycle_losses(*nets, frames, translated, self.weights)
            losses[f"recurrent_{x}"], losses[f"recycle_{x}"] = weight * recurrent, weight * recycle
        return losses

    def sample(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        real_A = self.rt.inputs(batch["A"])
        with self.rt.autocast():
            fake_B = self.modules["G_A"](real_A)
            rec_A = self.modules["G_B"](fake_B)
        return [real_A, fake_B, rec_A]

    def state(self) -> dict[str, torch.Tensor]:
        return {name: torch.stack(pool.images) for name, pool in self.pools.items() if pool.images}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        for name, pool in self.pools.items():
            pool.images = list(state[name].to(self.rt.device).unbind()) if name in state else []

    def export(self) -> dict[str, torch.nn.Module]:
        return {"AtoB": self.modules["G_A"], "BtoA": self.modules["G_B"]}


SPEC = MethodSpec(
    section="cyclegan", settings=CycleGANConfig, build=CycleGAN, validate=validate, fully_convolutional=True
)
