"""Fixtures shared by every test folder (helpers live in tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import FOOTAGE, make_video, panned_frames, tiny_model


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    """The test videos: constant and variable rate, odd size, rotated, with audio, damaged."""
    root = tmp_path_factory.mktemp("clips")
    frames = panned_frames(30, 96, 64)
    vfr_pts = np.cumsum([0, 33, 40, 120, 35, 33, 185, 50, 33, 33, 70, 33, 33, 100, 33, 40, 33, 33, 60, 33])
    made = {
        "cfr": make_video(root / "cfr.mp4", frames, audio_seconds=1.3),
        "vfr": make_video(root / "vfr.mp4", frames[:20], pts=[int(t) for t in vfr_pts], audio_seconds=1.2),
        "odd": make_video(root / "odd.mkv", panned_frames(12, 75, 51)),
        "rotated": make_video(root / "rotated.mov", frames[:10], rotation=-90, audio_seconds=0.5),
    }
    # a download that stopped part-way: Matroska still plays up to the cut; an MP4 whose
    # index (written last) is missing does not open at all
    for name, source in (("truncated", make_video(root / "whole.mkv", frames)), ("truncated_mp4", made["cfr"])):
        data = source.read_bytes()
        damaged = root / f"{name}{source.suffix}"
        damaged.write_bytes(data[: len(data) * 6 // 10])
        made[name] = damaged
    return made


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random generators saved as models, frame and face mode, shared by the apply tests:
    the ONNX file one test exports into a model's folder serves the next."""
    root = tmp_path_factory.mktemp("models")
    return {mode: tiny_model(root / f"tiny_{mode}", mode) for mode in ("frame", "face")}


def pytest_collection_modifyitems(config, items):
    if not FOOTAGE.is_dir():
        skip = pytest.mark.skip(reason=f"real footage folder {FOOTAGE} is absent")
        for item in items:
            if "footage" in item.keywords:
                item.add_marker(skip)
