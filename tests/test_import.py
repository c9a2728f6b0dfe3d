"""`vidswap import`: checkpoints in each layout the CycleGAN and CUT code write give the same
translation once imported; what cannot be placed is refused in one line, leaving the store empty.

The reference generators below rebuild the original projects' layer order independently of
vidswap's code (plain modules, the original `filt` buffers and crops)."""

import hashlib
import json
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
from vidswap.pipeline.translate import to_images, to_tensor

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


class ReferenceBlock(nn.Module):
    def __init__(self, dim, norm, bias):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), reference_norm(norm, dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), reference_norm(norm, dim),
        )  # fmt: skip

    def forward(self, x):
        return x + self.conv_block(x)


class ReferenceGenerator(nn.Module):
    """The ResnetGenerator of the CycleGAN repository (antialias=False) or the CUT repository
    (antialias=True, its default); convolutions have a bias only before instance norm."""

    def __init__(self, norm="instance", antialias=False):
        super().__init__()
        bias = norm.startswith("instance")
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, NGF, 7, bias=bias), reference_norm(norm, NGF), nn.ReLU(True)]
        for c in (NGF, 2 * NGF):
            if antialias:
                layers += [nn.Conv2d(c, 2 * c, 3, padding=1, bias=bias), reference_norm(norm, 2 * c), nn.ReLU(True),
                           ReferenceDownsample(2 * c)]  # fmt: skip
            else:
                layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), reference_norm(norm, 2 * c), nn.ReLU(True)]
        layers += [ReferenceBlock(4 * NGF, norm, bias) for _ in range(BLOCKS)]
        for c in (4 * NGF, 2 * NGF):
            if antialias:
                layers += [ReferenceUpsample(c), nn.Conv2d(c, c // 2, 3, padding=1, bias=bias)]
            else:
                layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias)]
            layers += [reference_norm(norm, c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(NGF, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        for m in self.modules():  # norms that do something: random scales, shifts and statistics
            if isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d) and m.affine:
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.uniform_(m.bias, -0.3, 0.3)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
        self.eval()

    def forward(self, x):
        return self.model(x)


def reference(norm="instance", antialias=False, seed=0):
    torch.manual_seed(seed)
    return ReferenceGenerator(norm, antialias)


def with_old_instance_statistics(ref):
    """What PyTorch 0.4 saved for each instance norm: running statistics it never used."""
    state = ref.state_dict()
    for name, m in ref.named_modules():
        if isinstance(m, nn.InstanceNorm2d):
            state[f"{name}.running_mean"] = torch.randn(m.num_features)
            state[f"{name}.running_var"] = torch.rand(m.num_features) + 0.5
            state[f"{name}.num_batches_tracked"] = torch.tensor(7)
    assert len(state) > len(ref.state_dict())
    return state


def translate(net, x):
    with torch.no_grad():
        return net(x)


X = torch.rand(2, 3, 36, 44) * 2 - 1


def check_same_output(store, name, ref):
    model = load_model(name, store)
    diff = (translate(model.generator, X) - translate(ref, X)).abs().max().item()
    assert diff < 1e-5, diff
    return model


def state(ref):
    return ref.state_dict()


LAYOUTS = {
    # name: (reference generator's arguments, what the checkpoint holds)
    "cyclegan": ({}, state),
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
    kwargs, contents = LAYOUTS[layout]
    ref = reference(**kwargs)
    checkpoint = tmp_path / "latest_net_G.pth"
    torch.save(contents(ref), checkpoint)
    import_checkpoint(checkpoint, "imported", models_dir=tmp_path / "store")
    model = check_same_output(tmp_path / "store", "imported", ref)
    built = model.card.generators["AtoB"]["kwargs"]
    assert (built["norm"], built["antialias"]) == (kwargs.get("norm", "instance"), kwargs.get("antialias", False))
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
        ],
        capsys,
    )  # near-lossless and unsmoothed: compare pixels
    assert code == 0, err
    with av.open(str(clip)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(output)) as c:
        translated = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    expected = to_images(translate(ref, to_tensor(decoded, "cpu")))
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


def test_unknown_key_is_refused_by_name(tmp_path, capsys):
    state = reference().state_dict()
    # a residual block with dropout between its convolutions (not a layout vidswap builds)
    state["model.10.conv_block.7.weight"] = state.pop("model.10.conv_block.5.weight")
    torch.save(state, tmp_path / "g.pth")
    err = refused(tmp_path, capsys, tmp_path / "g.pth")
    assert "cannot place 'model.10.conv_block.7.weight'" in err
    # a stray one-dimensional weight is named, not taken for a norm's (the norm is still read right)
    state = {**reference().state_dict(), "model.99.weight": torch.zeros(3)}
    torch.save(state, tmp_path / "stray.pth")
    err = refused(tmp_path, capsys, tmp_path / "stray.pth")
    assert "cannot place 'model.99.weight'" in err and "instance norm" in err
    torch.save({"encoder.weight": torch.zeros(3)}, tmp_path / "other.pth")  # some other network altogether
    assert "cannot place 'encoder.weight'" in refused(tmp_path, capsys, tmp_path / "other.pth")


def test_missing_and_misshapen_parameters_are_refused_by_name(tmp_path, capsys):
    state = reference().state_dict()
    del state["model.4.weight"]
    torch.save(state, tmp_path / "missing.pth")
    assert "lacks 'model.4.weight'" in refused(tmp_path, capsys, tmp_path / "missing.pth")
    state = reference(antialias=True).state_dict()
    state["model.11.filt"] = torch.ones_like(state["model.11.filt"])
    torch.save(state, tmp_path / "filter.pth")
    assert "'model.11.filt'" in refused(tmp_path, capsys, tmp_path / "filter.pth")


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
