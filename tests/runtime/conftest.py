"""Fixtures for the runtime tests: a tiny saved model and a batch of images."""

from __future__ import annotations

import pytest
import torch

from tests.runtime.helpers import save_tiny_model


@pytest.fixture
def tiny_model(tmp_path):
    return save_tiny_model(tmp_path / "tiny")


@pytest.fixture
def images():
    """A batch of 3 image-like inputs in [-1, 1] at a size that is not square."""
    torch.manual_seed(1)
    base = torch.linspace(-1, 1, 80).view(1, 1, 1, 80) * torch.linspace(-1, 1, 48).view(1, 1, 48, 1)
    return (base + 0.3 * torch.randn(3, 3, 48, 80)).clamp(-1, 1)
