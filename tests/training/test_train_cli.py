"""End to end through `vidswap train` on tiny data and tiny networks (CPU)."""

import pytest
import torch
from click.testing import CliRunner

from tests.training.helpers import all_finite, read_losses
from trainer.checkpoint import CHECKPOINT, checkpoint_meta
from vidswap.cli.main import cli
from vidswap.models import load_model

EXPECTED_LOSSES = {
    "cyclegan": {"G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B"},
    "cut": {"D", "G_GAN", "NCE", "NCE_Y"},
    "fastcut": {"D", "G_GAN", "NCE"},
    "autoencoder": {"rec_A", "rec_B"},
}


def train(store, domains, *args):
    a, b = domains
    result = CliRunner().invoke(
        cli, ["train", "--source", str(a), "--target", str(b), "--config", "tiny", "--models-dir", str(store), *args]
    )
    return result


@pytest.mark.parametrize("method", ["cyclegan", "cut", "fastcut", "acgan", "autoencoder"])
def test_each_method_trains_and_saves_a_listed_loadable_model(method, tmp_path, tiny_domains):
    result = train(tmp_path, tiny_domains, "--method", method, "--name", f"m_{method}")
    assert result.exit_code == 0, result.output
    rows = read_losses(tmp_path / ".runs" / f"m_{method}")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(all_finite(r) for r in rows)
    names = [set(r) - {"step", "lr"} for r in rows]
    if method == "acgan":  # step 1 (GAN) for 3 of 4 steps, then step 2 (encoder)
        assert names[0] == {"D_adv", "D_cls", "G_adv", "G_cls"} and names[-1] == {"E_mse"}
    else:
        assert all(n == EXPECTED_LOSSES[method] for n in names)
    assert (tmp_path / ".runs" / f"m_{method}" / "samples" / "step_0000004.png").is_file()

    listing = CliRunner().invoke(cli, ["models", "--models-dir", str(tmp_path)], terminal_width=200)
    assert listing.exit_code == 0 and f"m_{method}" in listing.output and method in listing.output

    model = load_model(f"m_{method}", models_dir=tmp_path)
    assert (model.card.method, model.card.size, model.card.steps) == (method, 32, 4)
    assert model.card.domains == ["A", "B"] and model.card.data["A"]["images"] == 4
    assert model.card.fully_convolutional == (method not in ("acgan", "autoencoder"))  # from the method registry
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    y = model.generator(x)
    assert y.shape == x.shape and torch.isfinite(y).all() and y.abs().max() <= 1
    assert not torch.allclose(y, x)


@pytest.mark.parametrize("method", ["cyclegan", "fastcut", "acgan", "autoencoder"])
def test_resume_continues_the_step_count_and_matches_an_uninterrupted_run(method, tmp_path, tiny_domains):
    # a constant learning rate, so a 2-step run is exactly the first half of a 4-step one
    const = ("--set", "train.decay_from=1")
    assert train(tmp_path, tiny_domains, "--method", method, "--name", "straight", *const).exit_code == 0
    first = train(tmp_path, tiny_domains, "--method", method, "--name", "split", "--steps", "2", *const)
    assert first.exit_code == 0, first.output
    assert checkpoint_meta(tmp_path / ".runs" / "split" / CHECKPOINT)["step"] == 2
    again = train(tmp_path, tiny_domains, "--name", "split", "--steps", "4", "--resume")
    assert again.exit_code == 0, again.output
    assert "resuming split at step 2" in again.output
    straight = read_losses(tmp_path / ".runs" / "straight")
    split = read_losses(tmp_path / ".runs" / "split")
    assert [r["step"] for r in split] == [1, 2, 3, 4]
    assert split == straight  # image pool, optimizer moments and RNG all restored: identical losses
    a = load_model("straight", models_dir=tmp_path).generator.state_dict()
    b = load_model("split", models_dir=tmp_path).generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_autoencoders_true_face_cycle_gan_and_ssim_train_and_resume(tmp_path, tiny_domains):
    args = ("--method", "autoencoder", "--set", "autoencoder.true_face=0.1", "--set", "autoencoder.cycle=1",
            "--set", "autoencoder.gan=0.1", "--set", "autoencoder.ssim=1", "--set", "train.decay_from=1")  # fmt: skip
    assert train(tmp_path, tiny_domains, *args, "--name", "straight").exit_code == 0
    first = train(tmp_path, tiny_domains, *args, "--name", "split", "--steps", "2")
    assert first.exit_code == 0, first.output
    assert train(tmp_path, tiny_domains, "--name", "split", "--steps", "4", "--resume").exit_code == 0
    straight, split = read_losses(tmp_path / ".runs" / "straight"), read_losses(tmp_path / ".runs" / "split")
    expected = {"rec_A", "rec_B", "cycle", "true_face", "code_D", "gan_B", "image_D"}
    assert all(set(r) - {"step", "lr"} == expected for r in straight)
    # the discriminators, their moments and the RNG of the cycle's warp restored
    assert split == straight and all(all_finite(r) for r in split)
    for setting in ("autoencoder.true_face=-1", "autoencoder.cycle=-1", "autoencoder.gan=-1", "autoencoder.ssim=-1"):
        r = train(tmp_path, tiny_domains, "--method", "autoencoder", "--name", "x", "--set", setting)
        assert r.exit_code != 0 and setting.split("=")[0] in str(r.exception)


def test_the_autoencoders_liae_layout_trains_resumes_and_exports_one_shared_decoder(tmp_path, tiny_domains):
    args = ("--method", "autoencoder", "--set", "autoencoder.layout=liae", "--set", "autoencoder.cycle=1",
            "--set", "train.decay_from=1")  # fmt: skip
    assert train(tmp_path, tiny_domains, *args, "--name", "straight").exit_code == 0
    assert train(tmp_path, tiny_domains, *args, "--name", "split", "--steps", "2").exit_code == 0
    assert train(tmp_path, tiny_domains, "--name", "split", "--steps", "4", "--resume").exit_code == 0
    straight, split = read_losses(tmp_path / ".runs" / "straight"), read_losses(tmp_path / ".runs" / "split")
    assert split == straight and all(set(r) - {"step", "lr"} == {"rec_A", "rec_B", "cycle"} for r in straight)
    generators = load_model("straight", models_dir=tmp_path).generators
    swap, back = generators["AtoB"], generators["BtoA"]  # A's face drawn as B; B's as A
    assert type(swap).__name__ == type(back).__name__ == "LiaeTranslator"
    assert swap.own_inter is None and back.own_inter is not None
    shared, own = swap.state_dict(), back.state_dict()
    assert all(torch.equal(v, own[k]) for k, v in shared.items())  # one encoder, shared inter and decoder
    r = train(tmp_path, tiny_domains, "--method", "autoencoder", "--name", "x", "--set", "autoencoder.layout=liae",
              "--set", "autoencoder.true_face=0.1")  # fmt: skip
    assert r.exit_code != 0 and "autoencoder.true_face needs the df layout" in str(r.exception)


def test_resume_without_a_checkpoint_and_a_bad_name_are_one_line_errors(tmp_path, tiny_domains):
    r = train(tmp_path, tiny_domains, "--name", "nothing", "--resume")
    assert r.exit_code != 0 and "nothing to resume" in str(r.exception)
    r = train(tmp_path, tiny_domains, "--method", "cut", "--name", "x", "--set", "cut.temperature=1")
    assert r.exit_code != 0 and "cut.temperature" in str(r.exception)


def test_non_finite_loss_stops_with_an_error(tmp_path, tiny_domains):
    r = train(
        tmp_path,
        tiny_domains,
        "--method",
        "cyclegan",
        "--name",
        "nan",
        "--set",
        "train.lr=1e30",
        "--set",
        "train.steps=6",
    )
    assert r.exit_code != 0 and "non-finite" in str(r.exception)


def test_a_gpu_that_is_not_there_is_a_one_line_error(tmp_path, tiny_domains, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with two GPUs
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    r = train(tmp_path, tiny_domains, "--method", "cut", "--name", "gpu3", "--set", "train.device=cuda:3")
    assert r.exit_code != 0 and str(r.exception) == "device 'cuda:3': only 2 GPU(s) are visible (cuda:0 to cuda:1)"
