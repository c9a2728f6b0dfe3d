"""--work-size: frames translated with their shorter side at N and brought back to their size
by the guided upsampling (vidswap.pipeline.upsample); the model card's default; face mode
unaffected."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import astronaut, run_cli, tiny_model
from vidswap.api import Translator, TranslatorSettings
from vidswap.errors import ConfigError
from vidswap.importer import import_checkpoint
from vidswap.metrics import psnr
from vidswap.models import CARD_FILE, load_model, read_card
from vidswap.nets import ResnetGenerator
from vidswap.pipeline.translate import run_framed, to_images, to_tensor
from vidswap.pipeline.upsample import enlarge, guided_upsample, shrink


def colour_map(x: torch.Tensor) -> torch.Tensor:
    """A per-pixel translation whose full-size answer is known: channels mixed, one inverted, a gamma."""
    mix = torch.tensor([[0.2, 0.6, 0.2], [0.9, -0.3, 0.1], [0.1, 0.1, 0.5]])
    y = torch.einsum("ck,nkhw->nchw", mix, x.add(1).div(2)).clamp(0, 1)
    return (1 - y**0.7).mul(2).sub(1)


def big_photo() -> torch.Tensor:
    image = np.asarray(Image.fromarray(astronaut()).resize((384, 288), Image.BICUBIC))
    return to_tensor([image], "cpu")


def test_guided_upsampling_recovers_a_colour_map_at_full_size():
    x = big_photo()
    small = shrink(x, (96, 128))
    translated = colour_map(small)
    truth = to_images(colour_map(x))[0]
    guided = guided_upsample(x, small, translated)
    bilinear = enlarge(translated, x.shape[2:])
    detail_added = x + enlarge(translated - small, x.shape[2:])  # a Laplacian pyramid's way: the input's detail
    assert psnr(to_images(guided)[0], truth) > 38
    assert psnr(to_images(guided)[0], truth) > psnr(to_images(bilinear)[0], truth) + 5
    assert psnr(to_images(guided)[0], truth) > psnr(to_images(detail_added)[0], truth) + 10  # the inverted edge
    # back-projected: shrunk again it is the small translation, strokes and all
    assert psnr(to_images(shrink(guided, (96, 128)))[0], to_images(translated)[0]) > 40


@pytest.fixture(scope="module")
def frame_model(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("models") / "frame", "frame")


def test_the_generator_runs_at_the_work_size_and_the_frame_keeps_its_size(frame_model):
    image = np.asarray(Image.fromarray(astronaut()).resize((160, 120), Image.BICUBIC))
    generator = load_model(str(frame_model)).generator
    x = to_tensor([image], "cpu")
    with torch.inference_mode():
        small = shrink(x, (48, 64))  # shorter side 48; the longer 64, a multiple of 4
        expected = to_images(guided_upsample(x, small, run_framed(generator, small)))[0]
        whole = to_images(run_framed(generator, x))[0]
    at_48 = Translator(model=str(frame_model), backend="torch", work_size=48)
    out = at_48(image)
    assert out.shape == image.shape and at_48.work_size == 48
    assert psnr(out, expected) > 45  # exactly the small run brought back
    full = Translator(model=str(frame_model), backend="torch", work_size="full")
    assert full.work_size is None and psnr(full(image), whole) > 45  # today's behaviour
    assert psnr(out, whole) < 35  # and the two differ
    small_image = image[:40, :64]  # smaller than the work size: its own size
    assert np.array_equal(at_48(small_image), full(small_image))


def test_card_defaults_imported_256_trained_full_and_old_cards(tmp_path, frame_model):
    assert read_card(frame_model).work_size is None  # a vidswap-trained frame model: full
    torch.manual_seed(0)
    torch.save(ResnetGenerator(ngf=4, n_blocks=1).state_dict(), tmp_path / "g.pth")
    store = tmp_path / "store"
    for mode in ("frame", "face"):
        import_checkpoint(tmp_path / "g.pth", mode, mode=mode, models_dir=store)
    assert read_card(store / "frame").work_size == 256 and read_card(store / "face").work_size is None
    assert Translator(model="frame", models_dir=str(store)).work_size == 256
    assert Translator(model="frame", models_dir=str(store), work_size=128).work_size == 128
    # a card written before work_size was recorded: imported ones get the published scale
    card = json.loads((store / "frame" / CARD_FILE).read_text())
    del card["work_size"]
    (store / "frame" / CARD_FILE).write_text(json.dumps(card))
    assert read_card(store / "frame").work_size == 256


def test_face_mode_ignores_the_work_size(frame_model, tmp_path):
    face = tiny_model(tmp_path / "face", "face")
    translator = Translator(model=str(face), backend="torch", work_size=32)
    assert translator.work_size is None  # crops are translated at the model's size
    crop = np.asarray(Image.fromarray(astronaut()).resize((64, 64), Image.BICUBIC))
    assert np.array_equal(translator(crop), Translator(model=str(face), backend="torch")(crop))
    assert Translator(model=str(frame_model), mode="face", work_size=32).work_size is None


@pytest.mark.parametrize("value, expected", [("full", "full"), ("256", 256), (128, 128), (None, None)])
def test_work_size_setting(value, expected):
    assert TranslatorSettings(work_size=value).work_size == expected


@pytest.mark.parametrize("value", ["12", "big", "-5", 0])
def test_bad_work_size_is_one_line(value, capsys, tmp_path):
    with pytest.raises(ConfigError, match="not a work size"):
        TranslatorSettings(work_size=value)
    code, _, err = run_cli(["apply", str(tmp_path / "x.mp4"), "-m", "identity", "--work-size", str(value)], capsys)
    assert code == 2 and "not a work size" in err and "Traceback" not in err
