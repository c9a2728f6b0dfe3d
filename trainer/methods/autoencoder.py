"""The face-swap autoencoder (deepfakes; faceswap's "Original" model; DeepFaceLab's LIAE): a shared
encoder and, in the DF layout, a decoder per domain (in LIAE one shared decoder and an inter of
A's own), each domain's drawing trained to give back its own crops from the code of a randomly
warped copy. The warp is what makes a swap: the encoder cannot pass the pixels through, so it
has to code the face's pose and expression, which the other domain's drawing then draws as its
own person. Export: the other domain's drawing on a crop's code."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer.methods.base import MethodSpec, require
from trainer.methods.common import adam, face_weights, frozen, image_dssim, image_l1, init_weights, lsgan, scalars
from trainer.runtime import Runtime
from trainer.temporal import temporal_loss
from vidswap.nets.autoencoder import (
    CodeDiscriminator,
    LiaeTranslator,
    SwapDecoder,
    SwapDown,
    SwapEncoder,
    SwapInter,
    SwapTranslator,
)
from vidswap.nets.discriminators import PatchDiscriminator


@dataclass
class AutoencoderConfig:
    # df: a decoder per person; liae: a shared decoder on [A's own inter or the shared one, the
    # shared one] (vidswap/nets/autoencoder.py)
    layout: str = "df"
    latent: int = 256  # the dense bottleneck's width
    warp: float = 0.04  # the random warp's displacement (standard deviation, a share of the crop's width)
    # DeepFaceLab's "true face": a discriminator on the shared code, and the encoder asked to make B's
    # codes pass for A's, so B's decoder learns on codes like those it decodes in a swap; 0: off
    true_face: float = 0.0
    # a swap and back gives the input again: A's crop drawn as B, re-coded (through a fresh random
    # warp, so no hidden signal passes) and drawn as A, L1 against A's crop (and B's the other way),
    # so B's decoder must keep what the code says of pose and expression; 0: off
    cycle: float = 0.0
    # DeepFaceLab's "GAN power": a patch discriminator (net.ndf, net.d_layers) judges B's
    # reconstructions against B's crops, so B is drawn sharp, not as the average an L1 settles on; 0: off
    gan: float = 0.0
    # DeepFaceLab's structural loss: this weight of DSSIM ((1 - SSIM) / 2) beside the L1 in each
    # comparison of a drawing with its crop, which asks for local contrast and edges where an L1
    # alone settles on a blur; 0: off
    ssim: float = 0.0


def validate(cfg) -> None:
    size = cfg.data.size
    require(size >= 16 and size & (size - 1) == 0, f"the autoencoder needs a power-of-two data.size >= 16, got {size}")
    require(cfg.autoencoder.latent >= 1, f"autoencoder.latent must be >= 1, got {cfg.autoencoder.latent}")
    require(cfg.autoencoder.warp >= 0, f"autoencoder.warp must be >= 0, got {cfg.autoencoder.warp}")
    require(cfg.autoencoder.true_face >= 0, f"autoencoder.true_face must be >= 0, got {cfg.autoencoder.true_face}")
    require(cfg.autoencoder.cycle >= 0, f"autoencoder.cycle must be >= 0, got {cfg.autoencoder.cycle}")
    require(cfg.autoencoder.gan >= 0, f"autoencoder.gan must be >= 0, got {cfg.autoencoder.gan}")
    require(cfg.autoencoder.ssim >= 0, f"autoencoder.ssim must be >= 0, got {cfg.autoencoder.ssim}")
    require(
        cfg.autoencoder.layout in ("df", "liae"),
        f"autoencoder.layout must be df or liae, got {cfg.autoencoder.layout!r}",
    )
    require(cfg.autoencoder.layout == "df" or cfg.autoencoder.true_face == 0,
            "autoencoder.true_face needs the df layout (it judges the code both decoders draw from)")  # fmt: skip


def random_warp(images: torch.Tensor, strength: float, points: int = 5) -> torch.Tensor:
    """Each image bent by its own smooth random displacement: offsets N(0, strength) (a share
    of the width) on a points x points grid, interpolated to every pixel (torch's RNG)."""
    if strength == 0:
        return images
    b, _, h, w = images.shape
    offsets = torch.randn(b, 2, points, points, device=images.device) * (2 * strength)  # grid units span 2
    field = F.interpolate(offsets, size=(h, w), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    identity = torch.eye(2, 3, device=images.device).expand(b, 2, 3)
    grid = F.affine_grid(identity, [b, 1, h, w], align_corners=False) + field
    return F.grid_sample(images, grid.to(images.dtype), padding_mode="border", align_corners=False)


class Autoencoder:
    def __init__(self, cfg, rt: Runtime):
        self.cfg, self.rt = cfg, rt
        size, ngf, latent = cfg.data.size, cfg.net.ngf, cfg.autoencoder.latent
        self.liae = cfg.autoencoder.layout == "liae"
        # PyTorch's default init (He-uniform, as faceswap's), not the GANs' N(0, 0.02)
        if self.liae:
            nets = {
                "down": SwapDown(size, ngf),
                "inter": SwapInter(size, ngf, latent),
                "inter_A": SwapInter(size, ngf, latent),
                "decoder": SwapDecoder(size, ngf, 8 * ngf),
            }
        else:
            nets = {
                "encoder": SwapEncoder(size, ngf, latent),
                "decoder_A": SwapDecoder(size, ngf),
                "decoder_B": SwapDecoder(size, ngf),
            }
        self.modules = {k: rt.prepare(v) for k, v in nets.items()}
        self.optimizers = {"AE": adam(self.modules.values(), cfg)}
        judges = {}
        if cfg.autoencoder.true_face > 0:
            judges["code_D"] = CodeDiscriminator(4 * ngf)
        if cfg.autoencoder.gan > 0:
            n = cfg.net
            judges["image_D"] = init_weights(PatchDiscriminator(ndf=n.ndf, n_layers=n.d_layers, norm=n.d_norm),
                                             n.init_gain, n.init)  # fmt: skip
        if judges:
            self.modules |= {k: rt.prepare(v) for k, v in judges.items()}
            self.optimizers["D"] = adam([self.modules[k] for k in judges], cfg)
        self.judges = list(judges)
        self.train_nets = {k: rt.wrap(v) for k, v in self.modules.items()}
        self.phases = [cfg.train.steps]
        self.temporal = temporal_loss(cfg, rt)
        self.weights = face_weights(cfg, rt.device)

    def _encode(self, nets, x: torch.Tensor) -> torch.Tensor:
        return nets["down" if self.liae else "encoder"](x)

    def _draw(self, nets, code: torch.Tensor, person: str) -> torch.Tensor:
        """One person's face from codes of `_encode`."""
        if not self.liae:
            return nets[f"decoder_{person}"](code)
        shared = nets["inter"](code)
        own = nets["inter_A"](code) if person == "A" else shared
        return nets["decoder"](torch.cat([own, shared], 1))

    def _likeness(self, drawn: torch.Tensor, crop: torch.Tensor) -> torch.Tensor:
        """How far a drawing is from its crop: L1, plus autoencoder.ssim of DSSIM."""
        loss = image_l1(drawn, crop, self.weights)
        if self.cfg.autoencoder.ssim > 0:
            loss = loss + self.cfg.autoencoder.ssim * image_dssim(drawn, crop, self.weights)
        return loss

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        rt, t = self.rt, self.train_nets
        real_A, real_B = rt.inputs(batch["A"]), rt.inputs(batch["B"])
        b = real_A.shape[0]
        warped = random_warp(torch.cat([real_A, real_B]), self.cfg.autoencoder.warp)
        with rt.autocast():
            code = self._encode(t, warped)  # both domains in one call
            rec_B = self._draw(t, code[b:], "B")
            losses = {
                "rec_A": self._likeness(self._draw(t, code[:b], "A"), real_A),
                "rec_B": self._likeness(rec_B, real_B),
            }
            if self.temporal:
                for domain, real, other in (("A", real_A, "B"), ("B", real_B, "A")):

                    def swap(x, other=other):
                        return self._draw(t, self._encode(t, x), other)

                    losses[f"temporal_{domain}"] = self.temporal(swap, real, swap(real), batch, domain)
            if self.cfg.autoencoder.cycle > 0:
                swapped = torch.cat([self._draw(t, code[:b], "B"), self._draw(t, code[b:], "A")])
                back = self._encode(t, random_warp(swapped, self.cfg.autoencoder.warp))
                losses["cycle"] = self.cfg.autoencoder.cycle * (
                    self._likeness(self._draw(t, back[:b], "A"), real_A)
                    + self._likeness(self._draw(t, back[b:], "B"), real_B)
                )
            with frozen(*(self.modules[k] for k in self.judges)):
                if "code_D" in t:
                    losses["true_face"] = lsgan(t["code_D"](code[b:]), True) * self.cfg.autoencoder.true_face
                if "image_D" in t:
                    losses["gan_B"] = lsgan(t["image_D"](rec_B), True) * self.cfg.autoencoder.gan
        rt.step(sum(losses.values()), self.optimizers["AE"])
        if self.judges:
            judged = {}
            with rt.autocast():
                if "code_D" in t:  # A's codes are what a swap decodes: "real"; B's: "fake"
                    pred = t["code_D"](code.detach())
                    judged["code_D"] = 0.5 * (lsgan(pred[:b], True) + lsgan(pred[b:], False))
                if "image_D" in t:
                    judged["image_D"] = 0.5 * (
                        lsgan(t["image_D"](real_B), True) + lsgan(t["image_D"](rec_B.detach()), False)
                    )
            rt.step(sum(judged.values()), self.optimizers["D"])
            losses |= judged
        return scalars(losses)

    def _translator(self, person: str) -> SwapTranslator | LiaeTranslator:
        """A standalone generator drawing `person` from any crop."""
        size, ngf, latent, m = self.cfg.data.size, self.cfg.net.ngf, self.cfg.autoencoder.latent, self.modules
        if self.liae:
            tr = LiaeTranslator(size, ngf, latent, own_inter=person == "A")
            parts = {"down": "down", "inter": "inter", "decoder": "decoder"} | (
                {"own_inter": "inter_A"} if person == "A" else {}
            )
        else:
            tr = SwapTranslator(size, ngf, latent)
            parts = {"encoder": "encoder", "decoder": f"decoder_{person}"}
        for mine, theirs in parts.items():
            getattr(tr, mine).load_state_dict(m[theirs].state_dict())
        return tr.to(self.rt.device).eval()

    def sample(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        real_A, m = self.rt.inputs(batch["A"]), self.modules
        with self.rt.autocast():  # the swap, then A's own reconstruction, from one code
            code = self._encode(m, real_A)
            return [real_A, self._draw(m, code, "B"), self._draw(m, code, "A")]

    def state(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        pass

    def export(self) -> dict[str, torch.nn.Module]:
        return {"AtoB": self._translator("B"), "BtoA": self._translator("A")}


# the translator resizes its input to data.size and back
SPEC = MethodSpec(
    section="autoencoder", settings=AutoencoderConfig, build=Autoencoder, validate=validate, fully_convolutional=False
)
