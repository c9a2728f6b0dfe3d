import pytest
import torch
from torch import nn

from trainer.config import load_config
from trainer.export import refresh_batch_norm
from trainer.methods import method_spec
from trainer.methods.autoencoder import random_warp
from trainer.methods.common import init_weights
from trainer.runtime import Runtime
from vidswap.errors import ModelError
from vidswap.models import ModelCard, load_model, save_model
from vidswap.nets import NETWORKS, build_network, network_spec
from vidswap.nets.acgan import ACGANDiscriminator, ACGANGenerator, ACGANTranslator
from vidswap.nets.autoencoder import LiaeTranslator, SwapDecoder, SwapTranslator
from vidswap.nets.base import Network
from vidswap.nets.discriminators import PatchDiscriminator
from vidswap.nets.generators import BlurDownsample, ResnetGenerator
from vidswap.nets.patchnce import PatchSampleMLP, patch_nce_loss


def count(net):
    return sum(p.numel() for p in net.parameters())


def test_paper_parameter_counts():
    assert count(ResnetGenerator(ngf=64, n_blocks=9)) == 11_378_179
    assert count(PatchDiscriminator(ndf=64, n_layers=3)) == 2_764_737


def test_instance_norm_hides_brightness_and_batch_norm_keeps_it():
    # why the small presets use batch norm: with instance norm the translation of a darker,
    # flatter copy of an image is the same image, so a tone grade cannot be learned
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    darker = 0.5 * x - 0.3
    change = {}
    for norm in ("instance", "batch"):
        g = ResnetGenerator(ngf=8, n_blocks=1, norm=norm).eval()
        change[norm] = ((g(x) - g(darker)).abs().mean() / g(x).abs().mean()).item()
    assert change["instance"] < 1e-4 < 1e-2 < change["batch"]
    assert count(ResnetGenerator(ngf=64, n_blocks=9, norm="none")) == 11_378_179  # norms hold no weights


def test_generator_taps_reference_layers_in_one_pass():
    g = ResnetGenerator(ngf=8, n_blocks=9)
    layers = [0, 4, 8, 12, 16]
    # the reference layout: 0 reflection pad, 4 first stride-2 conv, 8 second's norm, 12 and 16 residual blocks
    assert type(g.model[0]).__name__ == "ReflectionPad2d"
    assert type(g.model[4]).__name__ == "Conv2d" and g.model[4].stride == (2, 2)
    assert [type(g.model[i]).__name__ for i in (12, 16)] == ["ResnetBlock", "ResnetBlock"]
    x = torch.randn(1, 3, 32, 32)
    out, feats = g(x, layers)
    assert torch.equal(out, g(x))
    assert [f.shape[1] for f in feats] == g.layer_channels(layers) == [3, 16, 32, 32, 32]
    _, enc = g(x, layers, encode_only=True)
    assert all(torch.equal(a, b) for a, b in zip(enc, feats))


def test_patch_nce_prefers_matching_patches():
    torch.manual_seed(0)
    head = PatchSampleMLP([8], units=16)
    feat = torch.randn(2, 8, 6, 6)
    keys, ids = head([feat], 16)
    same, _ = head([feat], 16, ids)
    other, _ = head([torch.randn(2, 8, 6, 6)], 16, ids)
    assert keys[0].shape == (32, 16)
    assert patch_nce_loss(same[0], keys[0], 2) < patch_nce_loss(other[0], keys[0], 2)


def test_acgan_generator_draws_z_and_the_class_only_restyles_it():
    g = init_weights(ACGANGenerator(size=32, z_dim=16, ngf=8), 0.02).eval()
    z = torch.randn(6, 16)
    a, b = g(z, torch.zeros(6, dtype=torch.long)), g(z, torch.ones(6, dtype=torch.long))
    assert a.shape == (6, 3, 32, 32)
    assert torch.equal(a, b)  # the classes start alike: they differ only by their learned norms
    assert a.std(0).mean() > 0.2 * a.abs().mean()  # z shapes the picture from the start
    with torch.no_grad():
        g.norms[-1].shift.weight[1] += 0.5  # class 1's last-layer shift: same picture, restyled
    assert not torch.allclose(a, g(z, torch.ones(6, dtype=torch.long)))
    assert torch.equal(a, g(z, torch.zeros(6, dtype=torch.long)))


def assert_rebuilds_and_resizes(tr):
    """A fixed-size translator: rebuilt from its spec it gives the same output, at any input size."""
    again = build_network(network_spec(tr))
    again.load_state_dict(tr.state_dict())
    x = torch.rand(2, 3, 40, 36) * 2 - 1
    y = tr(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert torch.allclose(again.eval()(x), y)


def test_acgan_shapes_and_translator_rebuilds():
    d = ACGANDiscriminator(size=32, ndf=8)
    adv, cls = d(torch.randn(3, 3, 32, 32))
    assert adv.shape == (3,) and cls.shape == (3, 2)
    tr = ACGANTranslator(size=32, z_dim=8, ngf=8, ndf=8, target_class=1).eval()
    assert_rebuilds_and_resizes(tr)
    assert {"ResnetGenerator", "ACGANTranslator", "IdentityGenerator"} <= set(NETWORKS)


class Tinted(Network):
    """A network written without any bookkeeping of its arguments."""

    def __init__(self, width: int = 4, *, tint: float = 0.0, **extra):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.out = nn.Conv2d(width, 3, 1)
        self.tint = tint

    def forward(self, x):
        return torch.tanh(self.out(self.conv(x))) + self.tint


class WideTinted(Tinted):
    def __init__(self, width: int = 16, scale: float = 1.0):
        super().__init__(width, tint=0.25)
        self.scale = scale


def test_a_network_records_its_arguments_and_saves_and_rebuilds(tmp_path, monkeypatch):
    net = Tinted(6, tint=0.5, note="kept")
    assert net.kwargs == {"width": 6, "tint": 0.5, "note": "kept"}
    assert WideTinted(8).kwargs == {"width": 8, "scale": 1.0}  # the subclass's call, not its parent's
    monkeypatch.setitem(NETWORKS, "Tinted", Tinted)
    save_model(
        tmp_path / "m",
        ModelCard(name="m", method="test", mode="frame", size=None, generators={"AtoB": network_spec(net)}),
        {"AtoB": net},
    )
    loaded = load_model(str(tmp_path / "m")).generator
    assert isinstance(loaded, Tinted) and loaded.kwargs == net.kwargs and loaded.conv.out_channels == 6
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(loaded(x), net.eval()(x))


def test_an_unregistered_network_cannot_be_saved():
    with pytest.raises(ModelError, match="unknown network class 'WideTinted'"):
        network_spec(WideTinted())


@pytest.mark.parametrize("method", ["cyclegan", "cut"])
def test_the_generator_downsampling_setting_reaches_the_trained_generator(method):
    cfg = load_config(method, ["tiny"], ["net.n_downsampling=1", "cut.nce_layers=[0,4,7,9]"])
    generator = method_spec(method).build(cfg, Runtime(device=torch.device("cpu"))).export()["AtoB"]
    assert generator.kwargs["n_downsampling"] == 1  # what the model card saves and rebuilds from
    assert sum(isinstance(m, BlurDownsample) for m in generator.modules()) == 1
    assert generator(torch.zeros(1, 3, 36, 36)).shape == (1, 3, 36, 36)


def test_cut_takes_both_patchnce_queries_from_one_call_with_the_same_losses():
    # one encoder call on [translation, identity] instead of two: the same losses (instance norm
    # keeps images apart); with batch norm the two calls stay apart (its statistics would mix)
    def losses(one_call: bool, norm: str) -> dict[str, float]:
        torch.manual_seed(0)
        method = method_spec("cut").build(
            load_config("cut", ["tiny"], [f"net.norm={norm}"]), Runtime(torch.device("cpu"))
        )
        assert method.one_query_pass == (norm != "batch")
        method.one_query_pass = one_call
        batch = {
            side: torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(i)) * 2 - 1
            for i, side in enumerate("AB")
        }
        return method.train_step(batch, 1)

    one, two = losses(True, "instance"), losses(False, "instance")
    assert one.keys() == two.keys() and {"NCE", "NCE_Y"} <= one.keys()
    for name in one:
        assert one[name] == pytest.approx(two[name], rel=1e-4), name
    assert losses(False, "batch")["NCE_Y"] > 0


def test_batch_norm_statistics_are_recomputed_with_the_final_weights(tiny_domains):
    cfg = load_config("cyclegan", ["tiny"], ["net.norm=batch", "train.bn_refresh=3"])
    method = method_spec("cyclegan").build(cfg, Runtime(torch.device("cpu")))
    first = next(m for m in method.modules["G_A"].modules() if isinstance(m, nn.BatchNorm2d))
    first.running_mean.fill_(5.0)  # stale statistics, as an exponential average of earlier weights leaves
    seen = []
    hook = first.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].mean((0, 2, 3))))
    refresh_batch_norm(cfg, method, *(sorted(folder.iterdir()) for folder in tiny_domains))
    hook.remove()
    assert len(seen) == 3  # train.bn_refresh batches of domain A
    assert torch.allclose(first.running_mean, torch.stack(seen).mean(0), atol=1e-6)  # their plain average
    assert first.momentum == 0.1 and method.modules["G_A"].training  # the layer and the network as they were


def test_swap_translator_codes_any_size_and_rebuilds():
    tr = SwapTranslator(size=32, ngf=8, latent=16).eval()
    assert tr.encoder(torch.zeros(2, 3, 32, 32)).shape == (2, 32, 8, 8)  # the shared code: 8x8, 4 * ngf channels
    assert_rebuilds_and_resizes(tr)
    with pytest.raises(ValueError, match="power of two"):
        SwapTranslator(size=48)


def test_liae_translators_draw_a_from_its_own_inter_and_b_from_the_shared_one_twice():
    torch.manual_seed(0)
    draws_a = LiaeTranslator(size=32, ngf=8, latent=16, own_inter=True)
    draws_b = LiaeTranslator(size=32, ngf=8, latent=16)
    assert draws_b.own_inter is None and "own_inter" not in str(list(draws_b.state_dict()))
    draws_b.load_state_dict({k: v for k, v in draws_a.state_dict().items() if not k.startswith("own_inter.")})
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    h = draws_a.down(x)
    shared = draws_a.inter(h)
    assert shared.shape == (2, 32, 8, 8)  # each inter's code: 8x8, 4 * ngf channels; the decoder takes two
    with torch.no_grad():
        assert torch.allclose(draws_b(x), draws_a.decoder(torch.cat([shared, shared], 1)))
        assert torch.allclose(draws_a(x), draws_a.decoder(torch.cat([draws_a.own_inter(h), shared], 1)))
        assert not torch.allclose(draws_a(x), draws_b(x))
    for tr in (draws_a.eval(), draws_b.eval()):
        assert_rebuilds_and_resizes(tr)


def test_the_swap_decoders_upscales_start_free_of_checkerboard():
    """ICNR: each upscale's four sub-pixel filters start equal, so every 2x2 block it makes is flat."""
    up = SwapDecoder(size=32, ngf=8).net[0]
    out = up(torch.randn(1, 32, 8, 8))
    assert out.shape == (1, 16, 16, 16) and out.std() > 0
    for dy, dx in ((0, 1), (1, 0), (1, 1)):
        assert torch.equal(out[..., dy::2, dx::2], out[..., 0::2, 0::2])


def test_random_warp_bends_each_image_smoothly_by_about_the_strength():
    h = w = 64
    xs = torch.linspace(-1, 1, w).expand(h, w)
    ramps = torch.stack([xs, xs.T, torch.zeros(h, w)])[None].repeat(4, 1, 1, 1)  # each pixel's own x and y
    assert torch.equal(random_warp(ramps, 0.0), ramps)
    torch.manual_seed(0)
    bent = random_warp(ramps, 0.04)
    moved = (bent - ramps)[:, :2, 8:-8, 8:-8] / 2  # away from the border; a share of the width
    assert 0.015 < moved.std() < 0.05
    assert not torch.allclose(bent[0], bent[1])  # each image its own warp
    # smooth: neighbouring pixels move almost alike (a random field per pixel would not)
    assert (moved[..., 1:] - moved[..., :-1]).abs().mean() < 0.1 * moved.abs().mean()
