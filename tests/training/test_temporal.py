"""The temporal-stability regulariser (trainer/temporal.py) and its consecutive-frame pairs."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import run_cli
from tests.training.helpers import all_finite, read_losses
from trainer.config import load_config
from trainer.data import Augment, UnpairedSampler, collect_images, successors
from trainer.loop import train
from trainer.runtime import Runtime
from trainer.temporal import Pair, TemporalLoss, flow_grid, resample, transform_pair
from vidswap.errors import ConfigError, InputError

CPU = Runtime(torch.device("cpu"))


def smooth_images(b: int = 2, size: int = 32) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.nn.functional.interpolate(torch.rand(b, 3, 8, 8) * 2 - 1, size=size, mode="bilinear")


def flow_batch(x: torch.Tensor, dx: float) -> dict[str, torch.Tensor]:
    """x and the same images moved dx pixels right, with the flow from the moved back to x."""
    moved = torch.roll(x, round(dx), dims=3)
    flow = torch.zeros(x.shape[0], 2, *x.shape[2:])
    flow[:, 0] = -dx
    valid = torch.ones(x.shape[0], 1, *x.shape[2:])
    valid[..., : round(dx)] = 0  # what rolled in from the other side
    return {"A": x, "A_next": moved, "A_flow": flow, "A_valid": valid}


@pytest.mark.parametrize("mode", ["transform", "flow"])
def test_zero_for_an_equivariant_generator_and_positive_for_one_that_is_not(mode):
    x = smooth_images()
    batch = flow_batch(x, 2)
    loss = TemporalLoss(1.0, mode, CPU)
    colour = torch.nn.Conv2d(3, 3, 1)  # a per-pixel linear map commutes with any resampling

    def fixed_pattern(images):  # adds a pattern pinned to the frame: it does not move with the input
        return images + torch.linspace(-0.5, 0.5, images.shape[-1])

    for equivariant in (lambda images: images, colour):
        torch.manual_seed(1)
        with torch.no_grad():
            assert loss(equivariant, x, equivariant(x), batch, "A").item() == pytest.approx(0, abs=1e-10)
    torch.manual_seed(1)
    assert loss(fixed_pattern, x, fixed_pattern(x), batch, "A").item() > 1e-4


def test_the_transform_is_small_and_its_mask_drops_the_pixels_it_brings_in():
    torch.manual_seed(0)
    x = smooth_images(8)
    pair = transform_pair(x)
    assert pair.second.shape == x.shape and pair.mask.shape == (8, 1, 32, 32)
    kept = pair.mask.mean(dim=(1, 2, 3))
    assert (kept > 0.8).all() and (kept < 1).any()  # a few border pixels, never most of the crop
    assert 0 < (pair.second - x).abs().mean() < 0.5


def test_flow_grids_follow_opencv_conventions_and_flip_with_the_images():
    x = smooth_images()
    batch = flow_batch(x, 3)
    grid = flow_grid(batch["A_flow"])
    # G(x) sampled at x + flow(next -> x) lands on the moved images, away from the wrapped border
    assert torch.allclose(resample(x, grid)[..., 3:], batch["A_next"][..., 3:], atol=1e-5)
    pair = Pair(batch["A_next"], grid, batch["A_valid"])
    mirrored = pair.flipped()
    assert torch.allclose(resample(x.flip(3), mirrored.grid), resample(x, grid).flip(3), atol=1e-5)
    assert torch.equal(mirrored.mask, pair.mask.flip(3))


@pytest.mark.parametrize("method", ["cyclegan", "cut", "fastcut", "acgan", "autoencoder"])
def test_each_method_trains_with_it_and_logs_the_loss(method, tmp_path, tiny_domains):
    cfg = load_config(method, ["tiny"], ["train.temporal=2"])
    images = [collect_images([str(d)]) for d in tiny_domains]
    train(cfg, *images, tmp_path, show_progress=False)
    rows = read_losses(tmp_path)
    assert all(all_finite(r) for r in rows)
    expected = {"cut": {"temporal"}, "fastcut": {"temporal"}}.get(method, {"temporal_A", "temporal_B"})
    # the AC-GAN's translation exists from its encoder step (the last of the 4) on
    assert expected <= set(rows[-1]) and all(v > 0 for k, v in rows[-1].items() if k in expected)
    if method == "acgan":
        assert not expected & set(rows[0])


def test_consecutive_crops_are_paired_by_clip_and_time_and_come_with_their_flow(clip_dataset):
    images = collect_images([str(clip_dataset)])
    pairs = successors(images)
    assert len(images) == 8 and pairs == {i: i + 1 for i in range(7)}
    assert successors(images[::3]) == {0: 1, 1: 2}  # 0.12 s apart is still a pair (the limit is 0.25 s) ...
    assert successors([images[0], images[7]]) == {}  # ... 0.28 s is not
    sampler = UnpairedSampler(images, images, Augment(32, 36, False), 2, seed=0, consecutive=("A",))
    batch = sampler.batch(1)
    assert set(batch) == {"A", "A_next", "A_flow", "A_valid", "B"}
    assert batch["A_flow"].shape == (2, 2, 32, 32) and batch["A_valid"].mean() > 0.5
    # the window pans (3, 2) px a frame over the photo: a pixel of the next frame lies that far right and
    # down in this one; the 64 px square of the frame is 36 px after the resize: (1.69, 1.13) px
    trusted = batch["A_flow"].permute(1, 0, 2, 3)[:, batch["A_valid"][:, 0] > 0]
    dx, dy = trusted.median(dim=1).values.tolist()
    assert dx == pytest.approx(1.69, abs=0.25) and dy == pytest.approx(1.13, abs=0.25)
    loss = TemporalLoss(1.0, "flow", CPU)
    assert loss(lambda images: images, batch["A"], batch["A"], batch, "A") < 0.02  # the clip itself is consistent


def test_flow_mode_trains_on_clips_and_refuses_plain_image_folders(clip_dataset, tmp_path, tiny_domains):
    cfg = load_config("fastcut", ["tiny"], ["train.temporal=1", "train.temporal_mode=flow", "train.steps=2"])
    train(cfg, collect_images([str(clip_dataset)]), collect_images([str(tiny_domains[1])]), tmp_path / "run")
    assert "temporal" in read_losses(tmp_path / "run")[-1]
    with pytest.raises(InputError, match="domain A has none"):
        train(cfg, *[collect_images([str(d)]) for d in tiny_domains], tmp_path / "bad")


@pytest.mark.parametrize(
    ("override", "message"),
    [("train.temporal=-1", "train.temporal must be >= 0"), ("train.temporal_mode=optical", "transform, flow")],
)
def test_a_bad_setting_is_one_clear_line(override, message, tmp_path, tiny_domains, capsys):
    with pytest.raises(ConfigError, match=message):
        load_config("cut", ["tiny"], [override])
    a, b = tiny_domains
    argv = ["train", "--source", str(a), "--target", str(b), "--method", "cut", "--name", "x", "--config", "tiny"]
    code, out, err = run_cli([*argv, "--models-dir", str(tmp_path), "--set", override], capsys)
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_records_without_times_are_no_pairs(tmp_path):
    ds = tmp_path / "ds"
    (ds / "crops" / "k").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), 9 * i, np.uint8)).save(ds / "crops" / "k" / f"{i}.png")
    lines = [{"crop": f"crops/k/{i}.png", "source": "photo.jpg", "time": None} for i in range(3)]
    (ds / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert successors(collect_images([str(ds)])) == {}
