"""Recycle-GAN's recurrent temporal losses (trainer/recycle.py), CycleGAN's train.recycle."""

import json

import pytest
import torch
from click.testing import CliRunner

from tests.training.helpers import all_finite, read_losses
from trainer.config import load_config
from trainer.data import Augment, UnpairedSampler, collect_images
from trainer.recycle import recycle_losses
from vidswap.cli.main import cli
from vidswap.errors import ConfigError, InputError


def panning_clip(frames: int = 4, size: int = 16) -> torch.Tensor:
    """A smooth pattern moving one pixel right a frame: T,1,3,H,W in [-1, 1]."""
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size + frames), indexing="ij")
    image = torch.stack([torch.sin(xs / 2.0 + ys / 3.0), torch.cos(xs / 2.5), torch.sin(ys / 3.0)]) * 0.8
    return torch.stack([image[:, :, frames - t : frames - t + size] for t in range(frames)])[:, None]


def test_the_recurrent_loss_falls_on_a_clip_the_predictor_can_learn_and_recycle_reuses_it():
    torch.manual_seed(0)
    clip = panning_clip()
    predictor = torch.nn.Conv2d(6, 3, 3, padding=1)  # a pan of one pixel is a shift kernel: it can learn it

    def keep(x):
        return x

    def losses(frames):
        return recycle_losses(keep, keep, predictor, predictor, frames, frames[0])

    first = losses(clip[:3])[0].item()
    for step in range(300):
        recurrent, _ = losses(clip[step % 2 : step % 2 + 3])
        predictor.zero_grad()
        recurrent.backward()
        with torch.no_grad():  # plain gradient descent (torch.optim's first use costs seconds of imports)
            for weight in predictor.parameters():
                weight -= 0.1 * weight.grad
    recurrent, recycle = losses(clip[:3])
    assert recurrent.item() < 0.2 * first  # it learned the pan
    assert recycle.item() == pytest.approx(recurrent.item())  # identity translations: recycle is the same prediction

    def mirror(x):
        return x.flip(3)

    _, mirrored = recycle_losses(mirror, mirror, predictor, predictor, clip[:3], mirror(clip[0]))
    assert mirrored.item() > 2 * recycle.item()  # translated, the clip pans the other way: not what P learned


def test_the_sampler_draws_three_consecutive_frames_under_one_crop(clip_dataset, tiny_domains):
    images = collect_images([str(clip_dataset)])
    sampler = UnpairedSampler(images, images, Augment(32, 36, True, 0.3), 2, seed=0, triplets=("A",))
    batch = sampler.batch(1)
    assert set(batch) == {"A", "A_frames", "B"} and batch["A_frames"].shape == (2, 3, 3, 32, 32)
    assert torch.equal(batch["A"], batch["A_frames"][:, 0])
    assert torch.equal(batch["A_frames"], sampler.batch(1)["A_frames"])  # a pure function of the step
    step = (batch["A_frames"][:, 1] - batch["A_frames"][:, 0]).abs().mean()
    two = (batch["A_frames"][:, 2] - batch["A_frames"][:, 0]).abs().mean()
    assert 0 < step < two < 0.5  # the pan moves on a little each frame
    plain = [collect_images([str(d)]) for d in tiny_domains]
    with pytest.raises(InputError, match="domain A has none"):
        UnpairedSampler(*plain, Augment(16, 20, False), 2, seed=0, triplets=("A",))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (["train.recycle=-1"], "train.recycle must be >= 0"),
        (["train.recycle=1", "train.temporal=1", "train.temporal_mode=flow"], "train.temporal_mode=transform"),
    ],
)
def test_bad_recycle_settings_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("cyclegan", ["tiny"], override)


def _train(store, a, b, name, *args):
    command = ["train", "--source", str(a), "--target", str(b), "--models-dir", str(store), "--name", name]
    return CliRunner().invoke(cli, [*command, "--config", "tiny", "--steps", "2", *args])


@pytest.mark.slow
def test_cyclegan_trains_with_it_and_saves_it_in_the_card_and_other_methods_ignore_it(tmp_path, clip_dataset):
    result = _train(tmp_path, clip_dataset, clip_dataset, "recycled", "--method", "cyclegan",
                    "--set", "train.recycle=2")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_losses(tmp_path / ".runs" / "recycled")
    assert all(all_finite(r) for r in rows)
    assert all(rows[-1][k] > 0 for k in ("recurrent_A", "recycle_A", "recurrent_B", "recycle_B"))
    card = json.loads((tmp_path / "recycled" / "model.json").read_text())
    assert card["extra"]["config"]["train"]["recycle"] == 2
    assert set(card["generators"]) == {"AtoB", "BtoA"}  # the predictors train the generators, and stay behind
    result = _train(tmp_path, clip_dataset, clip_dataset, "fast", "--method", "fastcut", "--set", "train.recycle=2")
    assert result.exit_code == 0 and "fastcut trains without it" in result.output
    card = json.loads((tmp_path / "fast" / "model.json").read_text())
    assert card["extra"]["config"]["train"]["recycle"] == 0
    assert "recycle_A" not in read_losses(tmp_path / ".runs" / "fast")[-1]
