"""A batch worker keeps to its share of the cores: torch, OpenCV, ONNX Runtime and the FFmpeg
codecs (vidswap.pipeline.runners.use_cores). Checked in a fresh process, as a worker is one,
so this test process keeps its own settings."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _encoder_threads(path: Path) -> int:
    """OS threads of this process while an x264 encoder is open (its threads live as long as it)."""
    import numpy as np

    from vidswap.video import VideoWriter

    before = _os_threads()
    writer = VideoWriter(path, width=160, height=120, time_base="1/30", frame_rate=30)
    for pts in range(4):
        writer.write(np.full((120, 160, 3), pts * 40, np.uint8), pts)
    during = _os_threads()
    writer.close()
    return during - before


def _worker(folder: str, results) -> None:
    import cv2
    import torch

    from tests.runtime.helpers import save_tiny_model
    from vidswap.pipeline.runners import use_cores
    from vidswap.runtime import export_onnx, onnx_path
    from vidswap.runtime.onnxruntime_backend import OnnxRuntimeBackend

    folder = Path(folder)
    default = _encoder_threads(folder / "default.mp4")
    use_cores(1)
    model = save_tiny_model(folder / "tiny")
    onnx = export_onnx(model.generator, onnx_path(model.folder, "AtoB"), image_size=(32, 32))
    session = OnnxRuntimeBackend(onnx, torch.device("cpu")).session
    results.put({
        "torch": torch.get_num_threads(), "opencv": cv2.getNumThreads(),
        "ort": session.get_session_options().intra_op_num_threads,
        "encoder": _encoder_threads(folder / "shared.mp4"), "encoder_default": default,
    })  # fmt: skip


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="with one core every library uses one thread anyway")
def test_a_worker_keeps_every_library_to_its_share_of_the_cores(tmp_path):
    ctx = multiprocessing.get_context("spawn")  # as LocalRunner starts its workers
    results = ctx.Queue()
    child = ctx.Process(target=_worker, args=(str(tmp_path), results))
    child.start()
    got = results.get(timeout=120)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert (got["torch"], got["opencv"], got["ort"]) == (1, 1, 1)
    # x264 on its own starts a thread pool (one and a half a core, plus lookahead); held to one thread it starts none
    assert got["encoder"] == 0 < got["encoder_default"], got
