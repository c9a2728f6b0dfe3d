"""Test helpers for still images: real photos that packages ship (scikit-image's astronaut,
matplotlib's grace_hopper.jpg), saved the way cameras and editors save them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import cbook
from PIL import ExifTags, Image, ImageCms

from tests.helpers import astronaut

# EXIF orientation 6: the stored picture must be turned 90 degrees clockwise to be upright
ROTATE_CW = 6


def grace_hopper() -> np.ndarray:
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        return np.asarray(im.convert("RGB"))


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def save_photo(path: Path, image: np.ndarray, *, orientation: int | None = None, icc: bytes | None = None,
               alpha: np.ndarray | None = None) -> Path:  # fmt: skip
    """Write `image` as stored (not upright) with an EXIF orientation tag, an ICC profile and
    an alpha channel when given; a camera maker tag too, to see EXIF carried over."""
    im = Image.fromarray(image)
    if alpha is not None:
        im.putalpha(Image.fromarray(alpha))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "vidswap-test"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    options = {"exif": exif.tobytes()} | ({"icc_profile": icc} if icc else {})
    im.save(path, **options)
    return path


def photo_crop(width: int = 96, height: int = 64) -> np.ndarray:
    """A small, not square crop of the astronaut: orientation mistakes change its shape."""
    return np.ascontiguousarray(astronaut()[40 : 40 + height, 180 : 180 + width])
