"""scripts/known_answer_model.py: the benchmarks' sepia-fitted model is a loadable model folder."""

import runpy
import sys
from pathlib import Path

import numpy as np
import torch

from vidswap.models import load_model

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "known_answer_model.py"


def test_known_answer_model_writes_a_model_that_changes_images(tmp_path, monkeypatch, capsys):
    out = tmp_path / "sepia"
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "-o", str(out), "--steps", "3", "--mode", "face"])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    assert "dB against the grade" in capsys.readouterr().out
    model = load_model(str(out))
    assert (model.card.mode, model.card.size, model.card.steps) == ("face", 32, 3)
    x = torch.linspace(-1, 1, 3 * 32 * 32).reshape(1, 3, 32, 32)
    with torch.no_grad():
        y = model.generator(x)
    assert y.shape == x.shape and torch.isfinite(y).all() and (y - x).abs().mean() > 0.01
    assert not list(tmp_path.glob(".sepia.*"))  # written atomically, nothing left beside it
    np.testing.assert_array_less(y.abs().numpy(), 1.0 + 1e-6)  # tanh output
