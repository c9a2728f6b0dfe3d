"""One model store for every way in: $VIDSWAP_MODELS_DIR is read by the store itself, so the API,
the CLI, shell completion and batch workers find the same models."""

from __future__ import annotations

import click
import pytest

import vidswap
from tests.helpers import make_library, run_cli, tiny_model
from vidswap.cli.completion import complete_model
from vidswap.errors import ModelError
from vidswap.store import models_home


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A store holding the model 'tiny', named by $VIDSWAP_MODELS_DIR only."""
    for name in ("VIDSWAP_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the default store is empty
    folder = tmp_path / "store"
    tiny_model(folder / "tiny", "frame")
    monkeypatch.setenv("VIDSWAP_MODELS_DIR", str(folder))
    return folder


def test_the_api_loads_a_model_by_name_from_VIDSWAP_MODELS_DIR(store, monkeypatch):
    assert models_home() == store
    assert vidswap.load("tiny").model.folder == store / "tiny"
    assert models_home(store.parent / "other") == store.parent / "other"  # --models-dir still wins
    monkeypatch.delenv("VIDSWAP_MODELS_DIR")
    with pytest.raises(ModelError, match="not found"):
        vidswap.load("tiny")


def test_completion_and_the_cli_see_the_same_store(store, capsys):
    ctx = click.Context(click.Command("apply"))
    assert [item.value for item in complete_model(ctx, None, "t")] == ["tiny"]
    code, out, _ = run_cli(["models"], capsys)
    assert code == 0 and "tiny" in out and str(store) in out.replace("\n", "")


@pytest.mark.slow  # starts a worker process (torch imported there)
def test_batch_workers_use_the_store_of_VIDSWAP_MODELS_DIR(store, tmp_path):
    library = make_library(tmp_path / "library", {"a.mp4": (3, 0)})
    report = vidswap.batch(library, tmp_path / "out", model="tiny")
    assert report.ok and report.converted == ["a.mp4"]
    assert (tmp_path / "out" / "a.mp4").is_file()
