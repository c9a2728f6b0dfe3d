"""Image-quality scores of translated frames against a reference."""

from __future__ import annotations

import math

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images (or stacks of them); inf when equal."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def high_frequency_energy(images: np.ndarray, cutoff: float = 0.25) -> float:
    """Mean power per pixel (in grey levels squared, averaged over the channels) of uint8 images
    (H x W x C, or a stack) at spatial frequencies of at least `cutoff` cycles per pixel (0.25:
    half the Nyquist frequency), from a Hann-windowed FFT. Compare an output's with its
    reference's: a checkerboard grid or noise raises the ratio above 1, a blur lowers it."""
    x = np.asarray(images, np.float64)
    x = x.reshape(-1, *x.shape[-3:]).transpose(0, 3, 1, 2)  # N, C, H, W
    h, w = x.shape[-2:]
    window = np.outer(np.hanning(h), np.hanning(w))
    x = (x - x.mean(axis=(-2, -1), keepdims=True)) * window
    power = np.abs(np.fft.fft2(x)) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    high = np.hypot(fy, fx) >= cutoff
    # Parseval: sum |F|^2 = H W sum (x window)^2, and the window keeps sum(window^2) / (H W) of the power
    return float(power[..., high].sum() / (x.shape[0] * x.shape[1] * h * w * (window**2).sum()))
