"""Measures of translated video: optical-flow helpers, the warping error and image scores (psnr)."""

from vidswap.metrics.image import psnr

__all__ = ["psnr"]
