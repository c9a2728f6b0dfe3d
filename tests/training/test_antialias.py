"""The anti-aliased generator (CUT's default): same parameters, CUT's layer indices, and no
checkerboard where strided transposed convolutions draw one."""

import pytest
import torch
from torch import nn

from vidswap.nets.generators import BlurDownsample, BlurUpsample, ResnetGenerator


def count(net):
    return sum(p.numel() for p in net.parameters())


def test_same_parameter_count_and_nothing_fixed_in_the_weights():
    g = ResnetGenerator(ngf=64, n_blocks=9, antialias=True)
    assert count(g) == 11_378_179  # stride-1 convolutions hold what the strided ones held
    assert not any("kernel" in k for k in g.state_dict())  # the blur filters are rebuilt, not saved
    assert g.kwargs["antialias"] is True


@pytest.mark.parametrize("size", [(32, 32), (36, 52)])
def test_sampling_keeps_the_image_size(size):
    g = ResnetGenerator(ngf=4, n_blocks=1, antialias=True).eval()
    x = torch.rand(1, 3, *size) * 2 - 1
    down = BlurDownsample(3)(x)
    assert down.shape[-2:] == (size[0] // 2, size[1] // 2)
    assert BlurUpsample(3)(down).shape[-2:] == size
    assert g(x).shape == x.shape


def test_cut_patch_nce_layers_tap_the_same_places_as_the_cut_repository():
    # CUT's default layout: 0 reflection pad, 4 and 8 the stride-1 convolutions before each blur-pool,
    # 12 and 16 the first and fifth residual blocks
    g = ResnetGenerator(ngf=8, n_blocks=9, antialias=True)
    layers = [0, 4, 8, 12, 16]
    assert type(g.model[0]) is nn.ReflectionPad2d
    assert all(type(g.model[i]) is nn.Conv2d and g.model[i].stride == (1, 1) for i in (4, 8))
    assert [type(g.model[i]).__name__ for i in (7, 11, 12, 16, 20)] == [
        "BlurDownsample", "BlurDownsample", "ResnetBlock", "ResnetBlock", "ResnetBlock"]  # fmt: skip
    assert type(g.model[21]) is BlurUpsample
    x = torch.randn(1, 3, 32, 32)
    out, feats = g(x, layers)
    assert [f.shape[1] for f in feats] == g.layer_channels(layers) == [3, 16, 32, 32, 32]
    assert [f.shape[-1] for f in feats] == [38, 32, 16, 8, 8]
    assert torch.equal(out, g(x))


def test_a_flat_image_stays_flat_where_transposed_convolutions_draw_a_grid():
    torch.manual_seed(0)
    flat = torch.full((1, 3, 96, 96), 0.3)
    # without norms a flat input gives flat features inside the borders; only upsampling can add a pattern
    strided = ResnetGenerator(ngf=8, n_blocks=1, norm="none").eval()
    smooth = ResnetGenerator(ngf=8, n_blocks=1, norm="none", antialias=True).eval()
    with torch.no_grad():
        grid = strided(flat)[..., 32:-32, 32:-32]
        clean = smooth(flat)[..., 32:-32, 32:-32]
    # a grid: a pattern inside each channel that repeats every 4 pixels (two stride-2 upsamplings)
    assert grid.std(dim=(-2, -1)).min() > 1e-3
    assert torch.allclose(grid[..., 4:, :], grid[..., :-4, :], atol=1e-6)
    assert torch.allclose(grid[..., 4:], grid[..., :-4], atol=1e-6)
    assert clean.std(dim=(-2, -1)).max() < 1e-6


def test_blur_filters_keep_the_mean_and_pass_no_nyquist_stripes():
    up, down = BlurUpsample(1), BlurDownsample(1)
    assert torch.allclose(up.kernel.sum(), torch.tensor(4.0)) and torch.allclose(down.kernel.sum(), torch.tensor(1.0))
    stripes = torch.ones(1, 1, 16, 16)
    stripes[..., ::2] = -1  # the highest frequency: aliased to a flat image by plain subsampling
    assert down(stripes)[..., 2:-2, 2:-2].abs().max() < 1e-6  # the blur removes it before sampling
    assert torch.allclose(up(torch.full((1, 1, 8, 8), 0.7)), torch.full((1, 1, 16, 16), 0.7))
