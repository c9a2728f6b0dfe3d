"""Instance-norm statistics held along a clip (vidswap.nets.held_norm, `--hold-norm`): a
local change no longer shifts the whole picture, a scene cut starts afresh, and
generators without per-image instance norm, or with holding off, translate as before."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage.data import astronaut

from tests.helpers import make_video, run_cli
from vidswap.errors import ConfigError
from vidswap.models import ModelCard, load_model, save_model
from vidswap.nets.generators import ResnetGenerator
from vidswap.nets.held_norm import HeldInstanceNorm, HeldNorms, holds
from vidswap.pipeline.smooth import SceneCuts
from vidswap.pipeline.translate import ImageTranslator, to_tensor
from vidswap.pipeline.translator import Translator, held_norm
from vidswap.settings import HOLD_NORM, EncodeOptions, VideoSettings
from vidswap.video import open_video

SIDE = 64


def generator(norm: str = "instance") -> ResnetGenerator:
    torch.manual_seed(0)
    return ResnetGenerator(ngf=8, n_blocks=1, norm=norm).eval()


def saved(folder, norm: str = "instance"):
    net = generator(norm)
    card = ModelCard(name=folder.name, method="cyclegan", mode="frame", size=SIDE,
                     generators={"AtoB": {"class": "ResnetGenerator", "kwargs": net.kwargs}})  # fmt: skip
    save_model(folder, card, {"AtoB": net})
    return load_model(str(folder))


def scene() -> np.ndarray:
    return cv2.resize(astronaut(), (SIDE, SIDE), interpolation=cv2.INTER_AREA)


def with_patch(image: np.ndarray) -> np.ndarray:
    """A small change in one corner (a hand coming in): a white 12 x 12 square."""
    changed = image.copy()
    changed[4:16, 4:16] = 255
    return changed


def far_change(outputs: list[torch.Tensor]) -> float:
    """Mean absolute change, between the last two outputs, of the quarter of the picture
    farthest from the patch."""
    before, after = outputs[-2], outputs[-1]
    return float((after - before)[..., SIDE // 2 :, SIDE // 2 :].abs().mean())


def test_a_small_change_shifts_the_rest_of_the_picture_less_with_held_statistics():
    frames = [scene()] * 6 + [with_patch(scene())]
    net = generator()
    held = HeldNorms(net, 0.9).eval()
    with torch.no_grad():
        plain = [net(to_tensor([f], "cpu")) for f in frames]
        steady = []
        for t, frame in enumerate(frames):
            held.restart([t == 0])
            steady.append(held(to_tensor([frame], "cpu")))
    # until the change, the held statistics are the frame's own: the same translation
    torch.testing.assert_close(steady[5], plain[5], atol=1e-4, rtol=0)
    assert far_change(plain) > 1e-3  # instance norm: the corner moved the whole picture
    assert far_change(steady) < 0.3 * far_change(plain)


def test_frames_of_a_batch_are_held_in_order_as_one_at_a_time():
    frames = [scene(), with_patch(scene()), np.roll(scene(), 5, axis=1), scene()]
    starts = [True, False, False, True]
    one, batched = HeldNorms(generator(), 0.8).eval(), HeldNorms(generator(), 0.8).eval()
    with torch.no_grad():
        singles = []
        for frame, start in zip(frames, starts):
            one.restart([start])
            singles.append(one(to_tensor([frame], "cpu")))
        batched.restart(starts)
        together = batched(to_tensor(frames, "cpu"))
    torch.testing.assert_close(together, torch.cat(singles), atol=1e-5, rtol=0)


def test_a_cut_starts_the_statistics_afresh():
    net = generator()
    held = HeldNorms(net, 0.9).eval()
    other = np.ascontiguousarray(255 - scene()[::-1])
    cuts = SceneCuts()
    outputs = []
    with torch.no_grad():
        for frame in [scene()] * 4 + [other, with_patch(other)]:
            held.restart([cuts(frame)])
            outputs.append(held(to_tensor([frame], "cpu")))
        alone = net(to_tensor([other], "cpu"))
    torch.testing.assert_close(outputs[4], alone, atol=1e-4, rtol=0)  # the cut: the new scene's own statistics
    assert not torch.allclose(outputs[5], net(to_tensor([with_patch(other)], "cpu")), atol=1e-3)  # held again


def test_scene_cuts_mark_the_first_frame_and_a_jump():
    cuts = SceneCuts()
    image = scene()
    flags = [cuts(f) for f in [image, image, np.roll(image, 1, axis=1), 255 - image, 255 - image]]
    assert flags == [True, False, False, True, False]


def test_a_batch_without_restart_is_unrelated_images_normalised_alone():
    net = generator()
    held = HeldNorms(net, 0.9).eval()
    x = to_tensor([scene(), with_patch(scene())], "cpu")
    with torch.no_grad():
        held.restart([True, False])
        held(x)  # a clip's history now, which a batch of unrelated images must not see
        torch.testing.assert_close(held(x), net(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("norm", ["batch", "none", "instance_running"])
def test_generators_without_per_image_instance_norm_are_untouched(tmp_path, norm):
    model = saved(tmp_path / norm, norm)
    assert not holds(model.generator)
    held = ImageTranslator(model, backend="torch", hold=0.9)
    plain = ImageTranslator(model, backend="torch")
    frames = [scene(), with_patch(scene())]
    out = [held([f], [t == 0])[0] for t, f in enumerate(frames)]
    assert not isinstance(held.backend.module, HeldNorms)
    assert all(np.array_equal(a, b) for a, b in zip(out, plain(frames)))


def test_holding_off_translates_exactly_as_before(tmp_path):
    model = saved(tmp_path / "inorm")
    frames = [scene(), with_patch(scene()), scene()]
    off = ImageTranslator(model, backend="torch", hold=0.0)
    out = [off([f], [t == 0])[0] for t, f in enumerate(frames)]
    before = ImageTranslator(model, backend="torch")([*frames])
    assert not isinstance(off.backend.module, HeldNorms)
    assert all(np.array_equal(a, b) for a, b in zip(out, before))
    on = ImageTranslator(model, backend="torch", hold=0.9)
    held = [on([f], [t == 0])[0] for t, f in enumerate(frames)]
    assert isinstance(on.backend.module, HeldNorms)
    # a clip's first frame: its own statistics (computed apart from torch's kernel: rounding)
    assert np.abs(held[0].astype(int) - out[0]).max() <= 1
    assert np.abs(held[1].astype(int) - out[1]).max() > 10


def test_hold_norm_choice_holds_where_the_backend_can_or_stays_off():
    assert held_norm("auto", "torch", "cpu", True) == (HOLD_NORM, "torch")
    assert held_norm("auto", "onnx", "cpu", True) == (HOLD_NORM, "onnx")
    # auto on this CPU: ONNX Runtime first, then torch: both hold
    assert held_norm("auto", "auto", "cpu", True) == (HOLD_NORM, "auto")
    assert held_norm("on", "auto", "cpu", True) == (HOLD_NORM, "auto")
    assert held_norm("off", "torch", "cpu", True) == (0.0, "torch")
    assert held_norm("on", "torch", "cpu", False) == (0.0, "torch")  # face mode, or no instance norm
    assert held_norm("auto", "compile", "cpu", True) == (0.0, "compile")
    with pytest.raises(ConfigError, match="needs the torch or onnx backend"):
        held_norm("on", "compile", "cpu", True)


def test_onnx_runtime_holds_the_statistics_as_torch_does(tmp_path):
    """The HeldStep graph in ONNX Runtime, its statistics fed back frame to frame, against
    HeldNorms in torch: the same outputs along a clip with a cut, in batches of two, and
    images without restart normalised alone."""
    model = saved(tmp_path / "inorm")
    other = np.ascontiguousarray(255 - scene()[::-1])
    frames = [scene(), scene(), with_patch(scene()), other, with_patch(other), with_patch(other)]
    starts = [True, False, False, True, False, False]
    outputs = {}
    for backend in ("torch", "onnx"):
        translator = ImageTranslator(model, backend=backend, batch=2, hold=0.9)
        outputs[backend] = [y for i in range(0, 6, 2) for y in translator(frames[i : i + 2], starts[i : i + 2])]
        outputs[backend + " alone"] = translator(frames[2:4])
    assert (tmp_path / "inorm" / "AtoB.held.onnx").is_file()
    plain = ImageTranslator(model, backend="onnx")(frames)
    for key in ("", " alone"):
        for a, b in zip(outputs["torch" + key], outputs["onnx" + key]):
            assert np.abs(a.astype(int) - b).max() <= 1
    assert np.abs(outputs["onnx"][2].astype(int) - plain[2]).max() > 10  # held: not per-frame statistics
    assert np.abs(outputs["onnx"][3].astype(int) - plain[3]).max() <= 1  # the cut: its own statistics
    assert all(np.abs(a.astype(int) - b).max() <= 1 for a, b in zip(outputs["onnx alone"], plain[2:4]))


@pytest.mark.slow
def test_apply_holds_the_statistics_along_the_clip_and_restarts_at_a_cut(tmp_path):
    """A whole `apply` in frame mode: with --hold-norm on, frames after a scene's first are
    translated with held statistics (they differ from per-frame instance norm); each scene's
    first frame, the clip's and the one after the cut, is translated as before."""
    saved(tmp_path / "inorm")
    other = np.ascontiguousarray(255 - scene()[::-1])
    frames = [scene()] * 3 + [with_patch(scene()), other, with_patch(other)]
    clip = make_video(tmp_path / "clip.mp4", frames)
    outputs = {}
    for choice in ("off", "on"):
        translator = Translator(
            model=str(tmp_path / "inorm"), mode="frame", backend="torch", hold_norm=choice, smooth="none"
        )
        out = translator.apply(clip, tmp_path / f"{choice}.mp4", VideoSettings(encode=EncodeOptions(crf=0)))
        outputs[choice] = [f.image.astype(int) for f in open_video(out.output)]
    off, on = outputs["off"], outputs["on"]
    diff = [np.abs(a - b).mean() for a, b in zip(on, off)]
    assert diff[0] < 1.0 and diff[4] < 1.0, diff  # a scene's first frame: its own statistics
    assert diff[3] > 3 * max(diff[0], diff[4]) and diff[5] > 3 * max(diff[0], diff[4]), diff


def test_hold_norm_on_with_a_backend_that_cannot_hold_is_refused_in_one_line(tmp_path, capsys):
    saved(tmp_path / "inorm")
    clip = make_video(tmp_path / "clip.mp4", [scene()] * 2)
    argv = ["apply", str(clip), "--model", str(tmp_path / "inorm"), "--mode", "frame", "--hold-norm", "on",
            "--backend", "compile", "-o", str(tmp_path / "out.mp4")]  # fmt: skip
    code, _, err = run_cli(argv, capsys)
    assert code != 0 and "needs the torch or onnx backend" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.mp4").exists()


def test_half_precision_features_are_normalised_in_float32():
    """As under fp16 autocast on a GPU: large activations whose squares overflow fp16."""
    norm = HeldInstanceNorm(torch.nn.InstanceNorm2d(4), 0.9)
    x = (torch.randn(2, 4, 16, 16) * 300 + 50).half()
    norm.starts = [True, False]
    y = norm(x)
    assert y.dtype == torch.float16 and torch.isfinite(y).all()
    assert float(y[0].float().std()) == pytest.approx(1.0, abs=0.02)  # the scene's first frame: its own statistics
