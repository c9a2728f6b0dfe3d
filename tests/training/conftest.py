import os

import numpy as np
import pytest
from PIL import Image

from tests.helpers import make_video, panned_frames
from vidswap.extract import extract_dataset

# the machine is shared: keep every test process to one thread
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def tiny_domains(tmp_path_factory):
    """Two small unpaired image folders: A reddish noise, B bluish noise (different sizes, so
    the resize/crop path is exercised)."""
    root = tmp_path_factory.mktemp("domains")
    rng = np.random.default_rng(0)
    for name, tint in (("A", (60, 0, 0)), ("B", (0, 0, 60))):
        folder = root / name
        folder.mkdir()
        for i in range(4):
            img = rng.integers(0, 190, (40 + 4 * i, 48, 3)) + np.array(tint)
            Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    return root / "A", root / "B"


@pytest.fixture(scope="session")
def clip_dataset(tmp_path_factory):
    """A frame-mode extract dataset of a short panned clip (consecutive frames, real records)."""
    root = tmp_path_factory.mktemp("clip")
    video = make_video(root / "pan.mp4", panned_frames(8, 96, 64))
    extract_dataset([video], root / "ds", mode="frame", size=48, min_change=0, device="cpu")
    return root / "ds"
