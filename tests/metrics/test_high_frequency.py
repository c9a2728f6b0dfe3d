"""The high-frequency energy that tells a checkerboard grid (or a blur) from the true picture."""

import numpy as np
import pytest
from PIL import Image, ImageFilter

from vidswap.metrics import high_frequency_energy


def smooth_image() -> np.ndarray:
    y, x = np.mgrid[:72, :96]
    grey = 128 + 60 * np.sin(x / 9) + 40 * np.cos(y / 7)
    return np.repeat(grey[..., None], 3, -1).round().astype(np.uint8)


def test_a_smooth_picture_has_almost_none_and_a_grid_adds_its_power():
    image = smooth_image()
    y, x = np.mgrid[:72, :96]
    grid = np.where((x + y) % 2 == 0, 10, -10)[..., None]  # the pattern a stride-2 transposed conv draws
    gridded = (image.astype(int) + grid).astype(np.uint8)
    assert high_frequency_energy(image) < 0.5
    assert high_frequency_energy(gridded) == pytest.approx(100, rel=0.05)  # power of a +-10 pattern
    assert high_frequency_energy(np.stack([gridded, image])) == pytest.approx(50, rel=0.05)  # a stack: the mean


def test_a_blur_lowers_it_and_white_noise_has_the_share_above_the_cutoff():
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    blurred = np.asarray(Image.fromarray(noise).filter(ImageFilter.GaussianBlur(1.5)))
    # white noise spreads its power evenly: the share outside the circle of radius 0.25 of the unit square
    assert high_frequency_energy(noise) == pytest.approx(noise.var() * (1 - np.pi / 16), rel=0.05)
    assert high_frequency_energy(blurred) < 0.05 * high_frequency_energy(noise)
