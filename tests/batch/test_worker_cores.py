"""A batch worker keeps its compute libraries to its share of the cores: torch, OpenCV and
ONNX Runtime (vidswap.pipeline.runners.use_cores). Checked in a fresh process, as a worker
is one, so this test process keeps its own settings."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")


def _worker(folder: str, results) -> None:
    import cv2
    import torch

    from tests.runtime.helpers import save_tiny_model
    from vidswap.pipeline.runners import use_cores
    from vidswap.runtime import export_onnx, onnx_path
    from vidswap.runtime.onnxruntime_backend import OnnxRuntimeBackend

    before = (torch.get_num_threads(), cv2.getNumThreads())
    use_cores(1)
    model = save_tiny_model(Path(folder) / "tiny")
    onnx = export_onnx(model.generator, onnx_path(model.folder, "AtoB"), image_size=(32, 32))
    session = OnnxRuntimeBackend(onnx, torch.device("cpu")).session
    results.put((before, (torch.get_num_threads(), cv2.getNumThreads(),
                          session.get_session_options().intra_op_num_threads)))  # fmt: skip


@pytest.mark.slow  # a fresh process imports torch and exports to ONNX
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core every library uses one thread anyway")
def test_a_worker_keeps_torch_opencv_and_onnx_runtime_to_its_share_of_the_cores(tmp_path):
    ctx = multiprocessing.get_context("spawn")  # as LocalRunner starts its workers
    results = ctx.Queue()
    child = ctx.Process(target=_worker, args=(str(tmp_path), results))
    child.start()
    before, after = results.get(timeout=120)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert after == (1, 1, 1), (before, after)
