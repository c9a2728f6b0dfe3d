"""The face-swap levers: colour augmentation of the crops, a face mask for the losses that
compare images, and the faceswap preset carrying its method."""

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from skimage.data import astronaut

from tests.training.helpers import read_losses
from trainer.checkpoint import CHECKPOINT, checkpoint_meta
from trainer.config import drop_unused, load_config, preset_method
from trainer.data import Augment, UnpairedSampler, collect_images, jitter_color
from trainer.methods.common import face_weights, image_dssim, image_l1
from vidswap.cli.main import cli
from vidswap.errors import ConfigError
from vidswap.faces.align import face_ellipse, face_template


def test_color_jitter_recolours_each_crop_reproducibly_and_keeps_the_picture(tiny_domains):
    a, b = (collect_images([str(d)]) for d in tiny_domains)

    def first_crop(color, step):
        sampler = UnpairedSampler(a, b, Augment(16, 20, flip=True, color=color), batch_size=3, seed=1)
        return sampler.batch(step)["A"][0]

    plain, jittered = first_crop(0.0, 2), first_crop(0.5, 2)
    assert torch.equal(jittered, first_crop(0.5, 2))  # still a pure function of the step
    assert jittered.min() >= -1 and jittered.max() <= 1
    assert (jittered - plain).abs().mean() > 0.02  # same crop and flip, other colours
    assert np.corrcoef(plain.flatten(), jittered.flatten())[0, 1] > 0.8  # the same picture


def test_jitter_color_spreads_channel_gains_and_is_off_at_zero():
    rgb = np.random.default_rng(0).uniform(0.2, 0.8, (8, 8, 3))
    rng = np.random.default_rng(1)
    assert np.allclose(jitter_color(rgb, 0.0, rng), rgb)
    red_to_blue = [
        (out[..., 0].mean() / out[..., 2].mean()) for out in (jitter_color(rgb, 0.4, rng) for _ in range(50))
    ]
    base = rgb[..., 0].mean() / rgb[..., 2].mean()
    assert min(red_to_blue) < 0.9 * base and max(red_to_blue) > 1.1 * base  # the colour cast changes


def test_face_ellipse_covers_the_landmarks_and_not_the_corners():
    mask = face_ellipse(64)
    assert mask.shape == (64, 64) and mask.dtype == np.float32
    for x, y in face_template(64):  # eyes, nose, mouth corners
        assert mask[int(y), int(x)] == 1.0
    assert mask[0, 0] == mask[0, -1] == mask[-1, 0] == mask[-1, -1] == 0.0
    assert 0.1 < mask.mean() < 0.5


def test_face_weights_let_the_background_not_count():
    cfg = load_config("cyclegan", ["tiny"], ["train.face_mask=1.0"])
    weights = face_weights(cfg, torch.device("cpu"))
    assert weights.shape == (1, 1, 32, 32)
    x = torch.zeros(2, 3, 32, 32)
    corners = x.clone()
    corners[..., :4, :4] = 1.0  # differs from x in the background only
    centre = x.clone()
    centre[..., 14:18, 14:18] = 1.0  # in the face only
    assert image_l1(corners, x, weights) == 0
    assert image_l1(centre, x, weights) > image_l1(centre, x)  # the face counts more than in the plain mean
    assert image_l1(corners, x) > 0 and face_weights(load_config("cyclegan", ["tiny"]), torch.device("cpu")) is None
    with pytest.raises(ConfigError, match="data.mode=face"):
        load_config("cyclegan", ["tiny"], ["train.face_mask=0.5", "data.mode=frame"])


def test_dssim_counts_a_lost_edge_more_than_a_shift_of_tone_as_large():
    face = cv2.resize(astronaut()[:256, 128:384], (64, 64), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(face).permute(2, 0, 1)[None].float() / 127.5 - 1
    blurred = torch.from_numpy(cv2.GaussianBlur(face, (0, 0), 1.5)).permute(2, 0, 1)[None].float() / 127.5 - 1
    shifted = (x + image_l1(blurred, x)).clamp(-1, 1)  # as large an L1, no structure lost
    assert image_dssim(x, x) < 1e-6
    assert image_l1(shifted, x) == pytest.approx(image_l1(blurred, x).item(), rel=0.05)
    assert image_dssim(blurred, x) > 3 * image_dssim(shifted, x)
    crops = ["train.face_mask=1.0", "data.size=64", "data.load_size=72"]
    weights = face_weights(load_config("autoencoder", ["tiny"], crops), torch.device("cpu"))
    corners = x.clone()
    corners[..., :6, :6] = -x[..., :6, :6]  # differs in the background only
    assert image_dssim(corners, x, weights) < 1e-6 < image_dssim(corners, x)


def _train(store, domains, name, *args):
    a, b = domains
    command = ["train", "--source", str(a), "--target", str(b), "--models-dir", str(store), "--name", name, *args]
    return CliRunner().invoke(cli, command)


@pytest.mark.slow
def test_the_face_mask_weights_the_cycle_and_identity_losses_only(tmp_path, tiny_domains):
    for name, mask in (("whole", "0"), ("masked", "1")):
        args = ("--method", "cyclegan", "--config", "tiny", "--steps", "1", "--set", f"train.face_mask={mask}")
        result = _train(tmp_path, tiny_domains, name, *args, "--set", "data.color_jitter=0.3")
        assert result.exit_code == 0, result.output
    whole, masked = (read_losses(tmp_path / ".runs" / n)[0] for n in ("whole", "masked"))
    assert whole["G_A"] == masked["G_A"] and whole["G_B"] == masked["G_B"]  # same nets and batch before any update
    assert all(whole[k] != masked[k] for k in ("cycle_A", "cycle_B", "idt_A", "idt_B"))


def test_the_face_mask_is_kept_for_the_methods_whose_losses_use_it():
    for method, kept in (("cyclegan", True), ("autoencoder", True), ("fastcut", False)):
        cfg = load_config(method, ["tiny"], ["train.face_mask=0.9", "data.mode=face", "data.size=32"])
        warnings = drop_unused(cfg)
        assert (cfg.train.face_mask == 0.9) is kept, method
        assert bool(warnings) is not kept and all(method in w for w in warnings)


@pytest.mark.slow
def test_the_faceswap_preset_carries_its_method_and_an_explicit_method_wins(tmp_path, tiny_domains):
    assert preset_method(["faceswap"]) == "cyclegan" and preset_method(["tiny"]) is None
    assert load_config("fastcut", ["faceswap"]).method == "fastcut"
    tiny = ["--config", "tiny", "--set", "data.size=32", "--set", "data.load_size=36", "--steps", "1"]
    result = _train(tmp_path, tiny_domains, "swap", "--config", "faceswap", *tiny)
    assert result.exit_code == 0, result.output
    saved = checkpoint_meta(tmp_path / ".runs" / "swap" / CHECKPOINT)["config"]
    assert saved["method"] == "cyclegan" and saved["cyclegan"]["lambda_idt"] == 0.5
    assert "face_mask" not in result.output
    result = _train(tmp_path, tiny_domains, "swap-fastcut", "--config", "faceswap", "--method", "fastcut", *tiny)
    assert result.exit_code == 0 and "fastcut trains without it" in result.output  # the mask is CycleGAN's only
    saved = checkpoint_meta(tmp_path / ".runs" / "swap-fastcut" / CHECKPOINT)["config"]
    assert saved["train"]["face_mask"] == 0  # so apply pastes the whole crop it was trained on
    result = _train(tmp_path, tiny_domains, "none", "--config", "tiny")
    assert result.exit_code != 0 and "--method" in str(result.exception)
