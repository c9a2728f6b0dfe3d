"""`vidswap import`: checkpoints in each layout the CycleGAN and CUT code and the popular
re-implementations write give the same translation once imported; what cannot be placed is
refused in one line, leaving the store empty.

The generators below rebuild each project's layer order and attribute names independently of
vidswap's code (plain modules, the original `filt` buffers and crops), at tiny widths."""

import hashlib
import json
import math
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from tests.helpers import make_video, panned_frames, run_cli
from vidswap.errors import ModelError
from vidswap.importer import import_checkpoint
from vidswap.metrics import psnr
from vidswap.models import load_model
from vidswap.nets.resnet_layout import Hints
from vidswap.pipeline.translate import run_framed, to_images, to_tensor
from vidswap.video import open_video

NGF, BLOCKS = 4, 2


class ReferenceDownsample(nn.Module):
    """CUT's Downsample: reflect pad 1, [1,2,1] x [1,2,1] / 16 at stride 2, filter saved as `filt`."""

    def __init__(self, channels):
        super().__init__()
        a = torch.tensor([1.0, 2.0, 1.0])
        filt = a[:, None] * a[None, :]
        self.register_buffer("filt", (filt / filt.sum())[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        return F.conv2d(nn.ReflectionPad2d(1)(x), self.filt, stride=2, groups=x.shape[1])


class ReferenceUpsample(nn.Module):
    """CUT's Upsample: replicate pad 1, transposed [1,3,3,1] filter x 4 at stride 2, then crops."""

    def __init__(self, channels):
        super().__init__()
        a = torch.tensor([1.0, 3.0, 3.0, 1.0])
        filt = a[:, None] * a[None, :]
        self.register_buffer("filt", (filt / filt.sum() * 4)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        y = F.conv_transpose2d(nn.ReplicationPad2d(1)(x), self.filt, stride=2, padding=2, groups=x.shape[1])
        return y[:, :, 1:, 1:][:, :, :-1, :-1]


def reference_norm(norm, c):
    return {"instance": lambda: nn.InstanceNorm2d(c), "instance_affine": lambda: nn.InstanceNorm2d(c, affine=True),
            "batch": lambda: nn.BatchNorm2d(c), "none": nn.Identity}[norm]()  # fmt: skip


def reference_padding(padding):
    """(layers before a 3x3 convolution, its own padding), as the reference code's padding_type."""
    return {"reflect": ([nn.ReflectionPad2d(1)], 0), "replicate": ([nn.ReplicationPad2d(1)], 0), "zero": ([], 1)}[
        padding
    ]


class ReferenceBlock(nn.Module):
    def __init__(self, dim, norm, bias, padding="reflect", dropout=False):
        super().__init__()
        pad, p = reference_padding(padding)
        layers = [*pad, nn.Conv2d(dim, dim, 3, padding=p, bias=bias), reference_norm(norm, dim), nn.ReLU(True)]
        layers += [nn.Dropout(0.5)] * dropout
        pad, p = reference_padding(padding)
        layers += [*pad, nn.Conv2d(dim, dim, 3, padding=p, bias=bias), reference_norm(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ReferenceGenerator(nn.Module):
    """The ResnetGenerator of the CycleGAN repository (antialias=False) or the CUT repository
    (antialias=True, its default; antialias_up=False: its --no_antialias_up); convolutions have a
    bias only before instance norm; padding and dropout: the residual blocks' options."""

    def __init__(self, norm="instance", antialias=False, padding="reflect", dropout=False, antialias_up=None):
        super().__init__()
        antialias_up = antialias if antialias_up is None else antialias_up
        bias = norm.startswith("instance")
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, NGF, 7, bias=bias), reference_norm(norm, NGF), nn.ReLU(True)]
        for c in (NGF, 2 * NGF):
            if antialias:
                layers += [nn.Conv2d(c, 2 * c, 3, padding=1, bias=bias), reference_norm(norm, 2 * c), nn.ReLU(True),
                           ReferenceDownsample(2 * c)]  # fmt: skip
            else:
                layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), reference_norm(norm, 2 * c), nn.ReLU(True)]
        layers += [ReferenceBlock(4 * NGF, norm, bias, padding, dropout) for _ in range(BLOCKS)]
        for c in (4 * NGF, 2 * NGF):
            if antialias_up:
                layers += [ReferenceUpsample(c), nn.Conv2d(c, c // 2, 3, padding=1, bias=bias)]
            else:
                layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias)]
            layers += [reference_norm(norm, c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(NGF, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        trained_norms(self)

    def forward(self, x):
        return self.model(x)


def trained_norms(net):
    """Norms that do something, as after training: random scales, shifts and statistics; eval mode."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d) and m.affine:
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.3, 0.3)
        if isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d) and m.track_running_stats:
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(100)
    return net.eval()


def reference(norm="instance", antialias=False, seed=0, **options):
    torch.manual_seed(seed)
    return ReferenceGenerator(norm, antialias, **options)


def with_old_instance_statistics(ref):
    """What PyTorch 0.4 saved for each instance norm: running statistics it never used, each
    module's tensors together, in the order state_dict() gives them."""
    state = {}
    for name, m in ref.named_modules():
        own = {f"{name}.{k}": v for k, v in [*m.named_parameters(recurse=False), *m.named_buffers(recurse=False)]}
        if isinstance(m, nn.InstanceNorm2d):
            own |= {f"{name}.running_mean": torch.randn(m.num_features),
                    f"{name}.running_var": torch.rand(m.num_features) + 0.5,
                    f"{name}.num_batches_tracked": torch.tensor(7)}  # fmt: skip
        state |= own
    assert len(state) > len(ref.state_dict()) and set(ref.state_dict()) < set(state)
    return state


def translate(net, x):
    with torch.no_grad():
        return net(x)


X = torch.rand(2, 3, 36, 44) * 2 - 1


def check_same_output(store, name, ref):
    model = load_model(name, store)  # rebuilt from the model folder alone
    diff = (translate(model.generator, X) - translate(ref, X)).abs().max().item()
    assert diff < 1e-5, diff
    return model


def output_psnr(a, b):
    """PSNR in dB of two translations in [-1, 1], over the range 0-1."""
    mse = (((a - b) / 2) ** 2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def state(ref):
    return ref.state_dict()


LAYOUTS = {
    # name: (reference generator's arguments, what the checkpoint holds[, import hints])
    "cyclegan": ({}, state),
    "cyclegan_dropout": ({"dropout": True}, state),  # no tensors of its own; the second convolution moves
    "cyclegan_zero_padding": ({"padding": "zero"}, state, Hints(padding="zero")),
    "cyclegan_replicate_padding": ({"padding": "replicate", "norm": "batch"}, state, Hints(padding="replicate")),
    "cut_transposed_upsampling": ({"antialias": True, "antialias_up": False}, state),
    "cut_antialiased": ({"antialias": True}, state),
    "instance_affine": ({"norm": "instance_affine"}, state),
    "batch_norm": ({"norm": "batch"}, state),
    "no_norm": ({"norm": "none"}, state),
    "cut_batch_norm": ({"norm": "batch", "antialias": True}, state),
    "dataparallel": ({}, lambda ref: {f"module.{k}": v for k, v in state(ref).items()}),
    "old_instance_statistics": ({}, with_old_instance_statistics),
    "old_affine_instance_statistics": ({"norm": "instance_affine"}, with_old_instance_statistics),
    "prefixed_networks": (
        {"antialias": True},
        lambda ref: {
            **{f"netG.{k}": v for k, v in state(ref).items()},
            **{f"netD.model.0.{i}.weight": torch.randn(2, 2) for i in range(2)},
            "netF.mlp_0.0.weight": torch.randn(4, 4),
        },
    ),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_imports_to_the_same_translation(tmp_path, layout):
    kwargs, contents, *hints = LAYOUTS[layout]
    ref = reference(**kwargs)
    checkpoint = tmp_path / "latest_net_G.pth"
    torch.save(contents(ref), checkpoint)
    import_checkpoint(checkpoint, "imported", models_dir=tmp_path / "store", hints=hints[0] if hints else None)
    model = check_same_output(tmp_path / "store", "imported", ref)
    built = model.card.generators["AtoB"]["kwargs"]
    antialias = kwargs.get("antialias", False)
    upsample = "blur" if kwargs.get("antialias_up", antialias) else "transposed"
    assert (built["norm"], built["antialias"], built["upsample"]) == (
        kwargs.get("norm", "instance"),
        antialias,
        upsample,
    )
    assert built["padding"] == kwargs.get("padding", "reflect")
    assert (built["ngf"], built["n_blocks"], built["n_downsampling"]) == (NGF, BLOCKS, 2)
    assert (model.card.mode, model.card.size) == ("frame", None)


def test_training_checkpoint_with_several_networks_picks_the_a_to_b_generator(tmp_path):
    g_a, g_b = reference(seed=1), reference(seed=2)
    torch.save(
        {
            "G_A": g_a.state_dict(),
            "G_B": g_b.state_dict(),
            "D_A": {"model.0.weight": torch.randn(8, 3, 4, 4)},
            "epoch": 200,
            "optimizer": {"state": {0: {"exp_avg": torch.zeros(3)}}},
        },
        tmp_path / "all.pth",
    )
    import_checkpoint(tmp_path / "all.pth", "a", models_dir=tmp_path / "store")
    check_same_output(tmp_path / "store", "a", g_a)
    _, card = import_checkpoint(tmp_path / "all.pth", "b", models_dir=tmp_path / "store", network="netG_B")
    check_same_output(tmp_path / "store", "b", g_b)
    assert card.extra["source"]["network"] == "G_B"


def test_face_models_get_a_crop_size(tmp_path):
    torch.save(reference().state_dict(), tmp_path / "g.pth")
    _, card = import_checkpoint(tmp_path / "g.pth", "face", mode="face", models_dir=tmp_path)
    _, sized = import_checkpoint(tmp_path / "g.pth", "face128", mode="face", size=128, models_dir=tmp_path)
    assert (card.mode, card.size, sized.size) == ("face", 256, 128)


def test_legacy_pytorch_format_imports(tmp_path):
    # the published CycleGAN generators date from PyTorch 0.3/0.4, before the zip format
    ref = reference()
    torch.save(with_old_instance_statistics(ref), tmp_path / "style_vangogh.pth", _use_new_zipfile_serialization=False)
    import_checkpoint(tmp_path / "style_vangogh.pth", "vangogh", models_dir=tmp_path)
    check_same_output(tmp_path, "vangogh", ref)


def test_safetensors_file_imports(tmp_path):
    ref = reference(antialias=True)
    save_file(ref.state_dict(), str(tmp_path / "g.safetensors"))
    import_checkpoint(tmp_path / "g.safetensors", "st", models_dir=tmp_path)
    check_same_output(tmp_path, "st", ref)


def test_cli_import_records_where_it_came_from_and_apply_translates_a_clip(tmp_path, capsys):
    ref = reference(antialias=True)
    checkpoint = tmp_path / "horse2zebra_cut.pth"
    torch.save(ref.state_dict(), checkpoint)
    store = tmp_path / "store"
    code, out, err = run_cli(["import", str(checkpoint), "--name", "zebra", "--domains", "horse, zebra",
                              "--models-dir", str(store)], capsys)  # fmt: skip
    assert code == 0, err
    assert out.strip() == str(store / "zebra") and "CUT layout" in err
    card = json.loads((store / "zebra" / "model.json").read_text())
    source = card["extra"]["source"]
    assert source["sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert (source["file"], source["project"], card["domains"]) == ("horse2zebra_cut.pth", "CUT", ["horse", "zebra"])
    assert card["size"] is None and card["mode"] == "frame" and source["date"]

    frames = panned_frames(4, 64, 48)
    clip = make_video(tmp_path / "clip.mp4", frames)
    output = tmp_path / "out.mp4"
    code, _, err = run_cli(
        [
            "apply",
            str(clip),
            "-m",
            "zebra",
            "--models-dir",
            str(store),
            "-o",
            str(output),
            "--crf",
            "0",
            "--pix-fmt",
            "yuv444p",
            "--smooth",
            "none",
            "--hold-norm",
            "off",
        ],
        capsys,
    )  # near-lossless, unsmoothed and each frame's own statistics: compare pixels
    assert code == 0, err
    with open_video(clip) as reader:  # the frames as apply reads them (chroma interpolated)
        decoded = [f.image for f in reader]
    with av.open(str(output)) as c:
        translated = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    expected = to_images(run_framed(lambda x: translate(ref, x), to_tensor(decoded, "cpu")))  # framed as apply runs it
    assert len(translated) == len(frames)
    assert min(psnr(a, b) for a, b in zip(translated, expected)) > 40  # the imported network
    assert psnr(translated[0], decoded[0]) < 20  # and not the input passed through


def refused(tmp_path, capsys, checkpoint, *extra):
    store = tmp_path / "store"
    code, out, err = run_cli(["import", str(checkpoint), "--name", "m", "--models-dir", str(store), *extra], capsys)
    assert code == ModelError.exit_code and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not store.exists() or list(store.iterdir()) == []  # nothing left in the store, not even a temp folder
    return err


def test_what_has_no_place_is_refused_naming_the_first_tensor(tmp_path, capsys):
    def refusal(state):
        torch.save(state, tmp_path / "g.pth")
        return refused(tmp_path, capsys, tmp_path / "g.pth")

    state = reference().state_dict()
    state["model.11.conv_block.1.weight"] = torch.randn(16, 16, 5, 5)  # a 5x5 kernel in the second residual block
    assert "cannot place 'model.11.conv_block.1.weight' (16, 16, 5, 5)" in refusal(state)
    err = refusal({**reference().state_dict(), "model.99.weight": torch.zeros(3)})  # a stray tensor at the end
    assert "cannot place 'model.99.weight' (3,): expected nothing after the output convolution" in err
    state = reference().state_dict()
    del state["model.4.weight"]  # the first downsampling's weight: its bias is left without a place
    assert "cannot place 'model.4.bias' (8,)" in refusal(state)
    state = {k: v for k, v in reference().state_dict().items() if not k.startswith("model.19.")}  # the output conv
    assert "it ends: expected the output 7x7 convolution of weight shape (3, 4, 7, 7)" in refusal(state)
    assert "cannot place 'encoder.weight'" in refusal({"encoder.weight": torch.zeros(3)})  # another network
    state = reference().state_dict()
    state["model.12.bias"] = torch.zeros(16)  # the first transposed convolution's bias is its output's, 8
    assert "cannot place 'model.12.bias' (16,)" in refusal(state)
    state = reference(norm="instance_affine").state_dict()
    del state["model.13.weight"]  # one norm without its scale
    assert "cannot place 'model.13.bias' (8,): its norm lacks some of bias, weight" in refusal(state)
    state = reference(antialias=True).state_dict()
    state["model.11.filt"] = torch.ones_like(state["model.11.filt"])
    assert "the blur filter 'model.11.filt'" in refusal(state)


class UnetBlock(nn.Module):
    """The CycleGAN repository's UnetSkipConnectionBlock (batch norm, its default for U-Nets)."""

    def __init__(self, outer, inner, input_nc=None, submodule=None, outermost=False, innermost=False):
        super().__init__()
        self.outermost = outermost
        down = nn.Conv2d(input_nc or outer, inner, 4, 2, 1, bias=False)
        if outermost:
            layers = [down, submodule, nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
        elif innermost:
            up = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, nn.BatchNorm2d(outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down, nn.BatchNorm2d(inner), submodule, nn.ReLU(True),
                      nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]  # fmt: skip
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def unet_generator(num_downs, ngf=2):
    """The repository's UnetGenerator: unet_128 has 7 downsamplings, unet_256 8."""
    block = UnetBlock(ngf * 8, ngf * 8, innermost=True)
    for _ in range(num_downs - 5):
        block = UnetBlock(ngf * 8, ngf * 8, submodule=block)
    for mult in (4, 2, 1):
        block = UnetBlock(ngf * mult, ngf * mult * 2, submodule=block)
    net = nn.Module()
    net.model = UnetBlock(3, ngf, input_nc=3, submodule=block, outermost=True)
    return net


@pytest.mark.parametrize("num_downs", [7, 8])
def test_unet_generators_are_refused_in_one_line(tmp_path, capsys, num_downs):
    torch.save(unet_generator(num_downs).state_dict(), tmp_path / "latest_net_G.pth")
    err = refused(tmp_path, capsys, tmp_path / "latest_net_G.pth")
    assert "'model.model.0.weight' (2, 3, 4, 4)" in err and "U-Net generators are not supported" in err


def test_cli_hints_what_the_weights_cannot_tell(tmp_path, capsys):
    torch.manual_seed(0)
    net = PerssonGenerator().eval()
    checkpoint = tmp_path / "genh.pth.tar"
    torch.save({"state_dict": net.state_dict(), "optimizer": adam_state(net)}, checkpoint)
    store = tmp_path / "store"
    code, out, err = run_cli(["import", str(checkpoint), "--name", "persson", "--down-padding", "reflect",
                              "--models-dir", str(store)], capsys)  # fmt: skip
    assert code == 0, err
    assert "(state_dict, CycleGAN layout)" in err and "reflect padding" in err
    card = json.loads((store / "persson" / "model.json").read_text())
    assert card["generators"]["AtoB"]["kwargs"]["down_padding"] == "reflect"
    assert output_psnr(translate(load_model("persson", store).generator, X), translate(net, X)) >= 40
    err = refused(tmp_path / "other", capsys, checkpoint, "--norm", "batch")  # no norm tensors: not batch norm
    assert "its norm tensors (none) do not fit --norm batch" in err


def test_a_broken_a_to_b_generator_is_refused_not_passed_over(tmp_path, capsys):
    g_a = reference(seed=1).state_dict()
    del g_a["model.7.weight"]
    torch.save({"G_A": g_a, "G_B": reference(seed=2).state_dict()}, tmp_path / "all.pth")
    err = refused(tmp_path, capsys, tmp_path / "all.pth")
    assert "(network G_A): cannot place 'model.7.bias' (16,)" in err


def test_ambiguous_checkpoint_lists_its_networks(tmp_path, capsys):
    sd = reference().state_dict()
    torch.save({"G_AB": sd, "G_BA": sd}, tmp_path / "two.pth")
    err = refused(tmp_path, capsys, tmp_path / "two.pth")
    assert "G_AB, G_BA" in err and "--network" in err
    assert "it holds: G_AB, G_BA" in refused(tmp_path, capsys, tmp_path / "two.pth", "--network", "G_C")


class RunsCode:
    """Unpickling this calls a function (makes a file): what weights_only refuses."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_pickled_code_and_damaged_files_are_refused(tmp_path, capsys):
    torch.save(reference(), tmp_path / "module.pth")  # a whole pickled nn.Module: loading it would run code
    assert "state_dict()" in refused(tmp_path, capsys, tmp_path / "module.pth")
    torch.save({"x": RunsCode(str(tmp_path / "ran"))}, tmp_path / "code.pth")  # a pickle that calls a function
    assert "state_dict()" in refused(tmp_path, capsys, tmp_path / "code.pth")
    assert not (tmp_path / "ran").exists()
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    assert "cannot read junk.pth" in refused(tmp_path, capsys, tmp_path / "junk.pth")
    np.save(tmp_path / "array.npy", np.zeros(3))
    (tmp_path / "array.npy").rename(tmp_path / "array.safetensors")
    assert "cannot read array.safetensors as safetensors" in refused(tmp_path, capsys, tmp_path / "array.safetensors")


def test_existing_name_is_kept_unless_replaced(tmp_path, capsys):
    torch.save(reference(seed=1).state_dict(), tmp_path / "one.pth")
    torch.save(reference(seed=2).state_dict(), tmp_path / "two.pth")
    import_checkpoint(tmp_path / "one.pth", "m", models_dir=tmp_path / "store")
    code, _, err = run_cli(["import", str(tmp_path / "two.pth"), "--name", "m", "--models-dir",
                            str(tmp_path / "store")], capsys)  # fmt: skip
    assert code == ModelError.exit_code and "already exists" in err
    check_same_output(tmp_path / "store", "m", reference(seed=1))
    import_checkpoint(tmp_path / "two.pth", "m", models_dir=tmp_path / "store", replace=True)
    check_same_output(tmp_path / "store", "m", reference(seed=2))


# The popular re-implementations, each rebuilt here from a reading of its generator code: the same
# attribute names, layer order, convolution biases, norms and paddings, at width NGF. Each entry:
# (network, what its training script saves, import hints, the upsampling the card records).


class AitorzipBlock(nn.Module):  # aitorzip/PyTorch-CycleGAN models.py: ResidualBlock
    def __init__(self, c):
        super().__init__()
        self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(True),
                                        nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))  # fmt: skip

    def forward(self, x):
        return x + self.conv_block(x)


class AitorzipGenerator(nn.Module):
    """aitorzip/PyTorch-CycleGAN `Generator`: one Sequential `model`, biased convolutions before
    plain instance norm, transposed convolutions; train.py saves netG_A2B.state_dict()."""

    def __init__(self):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, NGF, 7), nn.InstanceNorm2d(NGF), nn.ReLU(True)]
        for c in (NGF, 2 * NGF):
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
        layers += [AitorzipBlock(4 * NGF) for _ in range(BLOCKS)]
        for c in (4 * NGF, 2 * NGF):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                       nn.InstanceNorm2d(c // 2), nn.ReLU(True)]  # fmt: skip
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(NGF, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class LindernorenBlock(nn.Module):  # eriklindernoren/PyTorch-GAN implementations/cyclegan/models.py
    def __init__(self, c):
        super().__init__()
        self.block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(True),
                                   nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))  # fmt: skip

    def forward(self, x):
        return x + self.block(x)


class LindernorenGenerator(nn.Module):
    """eriklindernoren/PyTorch-GAN `GeneratorResNet`: residual blocks named `block`, and a decoder of
    nn.Upsample (nearest by default) then a zero-padded convolution; saves G_AB.state_dict()."""

    def __init__(self, mode="nearest"):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, NGF, 7), nn.InstanceNorm2d(NGF), nn.ReLU(True)]
        for c in (NGF, 2 * NGF):
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
        layers += [LindernorenBlock(4 * NGF) for _ in range(BLOCKS)]
        for c in (4 * NGF, 2 * NGF):
            layers += [nn.Upsample(scale_factor=2, mode=mode), nn.Conv2d(c, c // 2, 3, stride=1, padding=1),
                       nn.InstanceNorm2d(c // 2), nn.ReLU(True)]  # fmt: skip
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(NGF, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class BilinearForkGenerator(ReferenceGenerator):
    """A fork of the CycleGAN code whose `resnet_9blocks+` decoder is nn.Upsample(bilinear,
    align_corners=True), a reflection pad and a convolution, with affine instance norm."""

    def __init__(self):
        super().__init__("instance_affine")
        layers = list(self.model)
        decoder = [i for i, m in enumerate(layers) if isinstance(m, nn.ConvTranspose2d)]
        for i in reversed(decoder):
            c = layers[i].in_channels
            layers[i : i + 1] = [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                                 nn.ReflectionPad2d(1), nn.Conv2d(c, c // 2, 3)]  # fmt: skip
        self.model = nn.Sequential(*layers)


class LornatangBlock(nn.Module):  # Lornatang/CycleGAN-PyTorch model.py: _ResidualBlock
    def __init__(self, c):
        super().__init__()
        self.res = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c, track_running_stats=True), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c, track_running_stats=True),
        )  # fmt: skip

    def forward(self, x):
        return torch.add(self.res(x), x)


class LornatangGenerator(nn.Module):
    """Lornatang/CycleGAN-PyTorch `CycleNet`: a Sequential `main` whose instance norms track running
    statistics, which eval mode (its inference.py) then uses in place of each image's."""

    def __init__(self):
        super().__init__()

        def norm(c):
            return nn.InstanceNorm2d(c, track_running_stats=True)

        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, NGF, 7), norm(NGF), nn.ReLU(True)]
        for c in (NGF, 2 * NGF):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), norm(2 * c), nn.ReLU(True)]
        layers += [LornatangBlock(4 * NGF) for _ in range(BLOCKS)]
        for c in (4 * NGF, 2 * NGF):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, 1), norm(c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(NGF, 3, 7), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x)


class PerssonConvBlock(nn.Module):  # aladdinpersson/Machine-Learning-Collection CycleGAN generator_model.py
    def __init__(self, c_in, c_out, down=True, act=True, **kwargs):
        super().__init__()
        conv = (
            nn.Conv2d(c_in, c_out, padding_mode="reflect", **kwargs)
            if down
            else nn.ConvTranspose2d(c_in, c_out, **kwargs)
        )
        self.conv = nn.Sequential(conv, nn.InstanceNorm2d(c_out), nn.ReLU(True) if act else nn.Identity())

    def forward(self, x):
        return self.conv(x)


class PerssonBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block = nn.Sequential(PerssonConvBlock(c, c, kernel_size=3, padding=1),
                                   PerssonConvBlock(c, c, act=False, kernel_size=3, padding=1))  # fmt: skip

    def forward(self, x):
        return x + self.block(x)


class PerssonGenerator(nn.Module):
    """Aladdin Persson's CycleGAN `Generator`: no Sequential of the whole (initial, down_blocks,
    res_blocks, up_blocks, last), and every convolution pads by reflection, the stride-2 ones too;
    its save_checkpoint writes {"state_dict", "optimizer"}."""

    def __init__(self):
        super().__init__()
        self.initial = nn.Sequential(nn.Conv2d(3, NGF, 7, 1, 3, padding_mode="reflect"), nn.InstanceNorm2d(NGF),
                                     nn.ReLU(True))  # fmt: skip
        self.down_blocks = nn.ModuleList(
            [PerssonConvBlock(c, 2 * c, kernel_size=3, stride=2, padding=1) for c in (NGF, 2 * NGF)]
        )
        self.res_blocks = nn.Sequential(*[PerssonBlock(4 * NGF) for _ in range(BLOCKS)])
        self.up_blocks = nn.ModuleList(
            [
                PerssonConvBlock(c, c // 2, down=False, kernel_size=3, stride=2, padding=1, output_padding=1)
                for c in (4 * NGF, 2 * NGF)
            ]  # fmt: skip
        )
        self.last = nn.Conv2d(NGF, 3, 7, 1, 3, padding_mode="reflect")

    def forward(self, x):
        x = self.initial(x)
        for layer in self.down_blocks:
            x = layer(x)
        x = self.res_blocks(x)
        for layer in self.up_blocks:
            x = layer(x)
        return torch.tanh(self.last(x))


def adam_state(net):
    """What an Adam optimiser's state_dict() holds after a step, as training scripts save it beside
    the weights (built by hand: torch.optim takes seconds to import)."""
    params = list(net.parameters())
    state = {i: {"step": torch.tensor(1.0), "exp_avg": torch.randn_like(p), "exp_avg_sq": torch.rand_like(p)}
             for i, p in enumerate(params)}  # fmt: skip
    return {"state": state, "param_groups": [{"lr": 2e-4, "betas": (0.5, 0.999), "params": list(range(len(params)))}]}


REIMPLEMENTATIONS = {
    "aitorzip": (AitorzipGenerator, state, Hints(), "transposed"),
    "eriklindernoren": (LindernorenGenerator, state, Hints(), "nearest"),
    "eriklindernoren_bilinear": (
        lambda: LindernorenGenerator("bilinear"),
        state,
        Hints(upsample="bilinear"),
        "bilinear",
    ),
    "bilinear_fork": (
        BilinearForkGenerator,
        state,
        Hints(upsample="bilinear_aligned", up_padding="reflect"),
        "bilinear_aligned",
    ),  # fmt: skip
    "lornatang": (
        LornatangGenerator,
        lambda net: {
            "epoch": 3,
            "best_psnr": 0.0,
            "state_dict": net.state_dict(),
            "ema_state_dict": trained_norms(LornatangGenerator()).state_dict(),
            "optimizer": adam_state(net),
        },
        Hints(norm="instance_running"),
        "transposed",
    ),  # fmt: skip
    "aladdinpersson": (
        PerssonGenerator,
        lambda net: {"state_dict": net.state_dict(), "optimizer": adam_state(net)},
        Hints(down_padding="reflect"),
        "transposed",
    ),
}


@pytest.mark.parametrize("name", sorted(REIMPLEMENTATIONS))
def test_reimplementations_import_by_structure_to_the_same_translation(tmp_path, name):
    build, contents, hints, upsample = REIMPLEMENTATIONS[name]
    torch.manual_seed(0)
    net = trained_norms(build())
    checkpoint = tmp_path / f"{name}.pth"
    torch.save(contents(net), checkpoint)
    import_checkpoint(checkpoint, "imported", models_dir=tmp_path / "store", hints=hints)
    model = load_model("imported", tmp_path / "store")  # rebuilt from the model folder alone
    expected = translate(net, X)
    assert output_psnr(translate(model.generator, X), expected) >= 40
    built = model.card.generators["AtoB"]["kwargs"]
    assert (built["upsample"], built["ngf"], built["n_blocks"]) == (upsample, NGF, BLOCKS)
    # what the weights cannot tell matters: the wrong guess gives another picture
    wrong = {"nearest": "bilinear", "transposed": None}.get(upsample, "nearest")
    changed = Hints(padding="zero") if wrong is None else Hints(upsample=wrong, norm=hints.norm)
    import_checkpoint(checkpoint, "guessed", models_dir=tmp_path / "store", hints=changed)
    assert output_psnr(translate(load_model("guessed", tmp_path / "store").generator, X), expected) < 40


@pytest.mark.slow  # an ONNX export takes about 15 s on the 2-core development machine
def test_imported_variants_export_to_onnx_and_run_the_same(tmp_path):
    """The layers the re-implementations add (nn.Upsample, reflect-padded strided convolutions,
    instance norm with saved statistics) survive the ONNX export the onnx and tensorrt backends use."""
    ort = pytest.importorskip("onnxruntime")
    from vidswap.runtime.export import export_onnx

    torch.manual_seed(0)
    net = trained_norms(LindernorenGenerator())
    torch.save(net.state_dict(), tmp_path / "g.pth")
    hints = Hints(down_padding="reflect", norm="instance_running")
    with pytest.raises(ModelError):  # plain instance norm holds no statistics to use
        import_checkpoint(tmp_path / "g.pth", "m", models_dir=tmp_path / "store", hints=hints)
    net = trained_norms(LornatangGenerator())
    layers = list(net.main)
    for i in reversed([i for i, m in enumerate(layers) if isinstance(m, nn.ConvTranspose2d)]):
        c = layers[i].in_channels
        layers[i : i + 1] = [nn.Upsample(scale_factor=2), nn.Conv2d(c, c // 2, 3, padding=1)]
    for m in layers[:10]:
        if isinstance(m, nn.Conv2d) and m.stride == (2, 2):
            m.padding_mode = "reflect"
    net.main = nn.Sequential(*layers).eval()
    torch.save(net.state_dict(), tmp_path / "g.pth")
    import_checkpoint(tmp_path / "g.pth", "m", models_dir=tmp_path / "store", hints=hints)
    generator = load_model("m", tmp_path / "store").generator
    session = ort.InferenceSession(str(export_onnx(generator, tmp_path / "m.onnx", image_size=(32, 40))))
    x = torch.rand(1, 3, 48, 64) * 2 - 1  # another size than the export's
    (y,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert output_psnr(torch.from_numpy(y), translate(net, x)) >= 40
