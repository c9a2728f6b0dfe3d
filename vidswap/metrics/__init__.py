"""Measures of translated video: optical-flow helpers, the warping error and image scores (psnr)."""

from vidswap.metrics.image import high_frequency_energy, psnr

__all__ = ["high_frequency_energy", "psnr"]
