"""The check every backend passes before it is trusted with a model: its output on a
sample batch must match torch eager fp32 (PSNR above 40 dB). The verdict is cached in the
model folder, keyed by the weights and the backend's signature, so it runs once."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import torch

from vidswap.errors import ModelError
from vidswap.fsutil import atomic_write_text
from vidswap.runtime.base import Backend

log = logging.getLogger(__name__)

VERDICT_FILE = "runtime_checks.json"
MIN_PSNR = 40.0


def sample_batch(batch: int, height: int, width: int) -> torch.Tensor:
    """A fixed, image-like batch in [-1, 1]: smooth gradients, edges at several scales and
    a little texture, so normalisation layers see realistic statistics (pure noise would
    hide errors that show on real frames)."""
    gen = torch.Generator().manual_seed(0)
    ys = torch.linspace(-1, 1, height).view(1, 1, height, 1)
    xs = torch.linspace(-1, 1, width).view(1, 1, 1, width)
    phase = torch.arange(batch * 3, dtype=torch.float32).view(batch, 3, 1, 1)
    image = 0.5 * torch.sin(3 * xs + 2 * ys + phase) + 0.3 * torch.sign(torch.sin(9 * xs * ys + phase))
    image = image + 0.1 * torch.randn(batch, 3, height, width, generator=gen)
    return image.clamp(-1, 1)


def psnr(reference: torch.Tensor, test: torch.Tensor) -> float:
    """PSNR in dB for images in [-1, 1] (peak-to-peak 2)."""
    mse = torch.mean((reference.float().cpu() - test.float().cpu()) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(4.0 / mse)


def _load(folder: Path) -> dict:
    try:
        return json.loads((folder / VERDICT_FILE).read_text())
    except (OSError, ValueError):
        return {}


def verify_backend(
    backend: Backend,
    reference: Backend,
    sample: torch.Tensor,
    *,
    fingerprint: str,
    model_folder: Path | None,
) -> float:
    """PSNR of `backend` against `reference` on `sample`; raises ModelError below 40 dB.
    A verdict found in the model folder is reused (failures too: they stay refused)."""
    # not keyed by the sample's size: a backend that is right at one size is right at
    # others (TensorRT's signature names the graph its engines are built from)
    key = f"{fingerprint}|{backend.signature}"
    verdicts = _load(model_folder) if model_folder else {}
    value = verdicts.get(key, {}).get("psnr")
    if value is None:
        expected, got = reference(sample), backend(sample)
        if expected.shape != got.shape:
            raise ModelError(
                f"backend {backend.describe()} gives {tuple(got.shape)} where torch gives {tuple(expected.shape)}"
            )
        value = psnr(expected, got)
        if model_folder:
            # capped: an exact match is inf, which JSON cannot hold
            verdicts[key] = {"psnr": round(min(value, 200.0), 2), "backend": backend.describe()}
            try:
                atomic_write_text(model_folder / VERDICT_FILE, json.dumps(verdicts, indent=2))
            except OSError as exc:  # a read-only model store: check again next time
                log.info("cannot record the backend check in %s: %s", model_folder, exc)
    if value < MIN_PSNR:
        raise ModelError(
            f"backend {backend.describe()} does not reproduce the model (PSNR {value:.1f} dB against torch, "
            f"need {MIN_PSNR:.0f}); use --backend torch"
        )
    log.info("backend %s matches torch: PSNR %.1f dB", backend.describe(), value)
    return value
