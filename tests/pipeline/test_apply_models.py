"""apply with tiny random generators saved in the model format: backends, face mode,
smoothing, preview and the Python API."""

import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.helpers import astronaut, audio_packets, make_video, run_cli, tiny_model
from vidswap.api import Translator, TranslatorSettings, VideoSettings
from vidswap.metrics import high_frequency_energy, psnr
from vidswap.models import ModelCard, read_card
from vidswap.pipeline.translate import ImageTranslator
from vidswap.video import open_video


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory):
    """The astronaut's face moving slowly across a 160x120 frame, with audio."""
    image = astronaut()
    frames = [np.ascontiguousarray(image[10 + i : 130 + i, 150 + 2 * i : 310 + 2 * i]) for i in range(12)]
    return make_video(tmp_path_factory.mktemp("face") / "face.mp4", frames, audio_seconds=0.5)


def frames_of(path):
    with open_video(path) as reader:
        return list(reader)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_frame_mode_keeps_timing_and_audio(models, clips, tmp_path, backend):
    out = tmp_path / "out.mp4"
    translator = Translator(TranslatorSettings(model=str(models["frame"]), backend=backend, batch=2))
    result = translator.apply(clips["vfr"], out)
    before, after = frames_of(clips["vfr"]), frames_of(out)
    assert result.frames == len(after) == len(before)
    assert [f.time for f in after] == pytest.approx([f.time for f in before], abs=1e-6)
    assert audio_packets(out) == audio_packets(clips["vfr"])
    assert np.mean([psnr(a.image, b.image) for a, b in zip(before, after)]) < 25  # it translated


def test_backends_agree_on_frames(models, clips):
    images = [f.image for f in frames_of(clips["odd"])[:3]]
    reference = Translator(model=str(models["frame"]), backend="torch")(images)
    onnx = Translator(model=str(models["frame"]), backend="onnx")(images)
    assert all(psnr(a, b) > 40 for a, b in zip(reference, onnx))
    assert reference[0].shape == images[0].shape  # odd sizes come back at their own size


def test_tiled_translation_matches_size_and_roughly_the_whole(models):
    image = astronaut()[:200, :248]
    whole = Translator(model=str(models["frame"]), backend="torch")(image)
    tiled = Translator(model=str(models["frame"]), backend="torch", tile=96)(image)
    assert tiled.shape == image.shape
    assert psnr(whole, tiled) > 20


def test_api_takes_numpy_and_torch(models):
    import torch

    translator = Translator(model=str(models["frame"]), backend="torch")
    image = astronaut()[:64, :64]
    single = translator(image)
    assert single.shape == (64, 64, 3) and single.dtype == np.uint8
    tensor = torch.from_numpy(np.stack([image])).permute(0, 3, 1, 2).float() / 127.5 - 1
    out = translator(tensor)
    assert out.shape == (1, 3, 64, 64)
    assert psnr(((out[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy(), single) > 45


@pytest.mark.parametrize("mode", ["frame", "face"])
def test_apply_opens_its_input_at_most_twice(models, face_clip, tmp_path, monkeypatch, capsys, mode):
    """One `vidswap apply` reads the input's facts once and hands them to every stage: the
    probe's container goes on to the first reader, a finished reader's to the audio copy."""
    real_open, opened = av.open, []

    def counting_open(file, *args, **kwargs):
        opened.append(Path(str(file)).resolve())
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["apply", str(face_clip), "-m", str(models[mode]), "-o", str(out), "--backend", "torch"],
                           capsys)  # fmt: skip
    assert code == 0, err
    assert opened.count(face_clip.resolve()) <= 2
    assert audio_packets(out) == audio_packets(face_clip)  # the audio copy still starts at the start


def test_inference_size_comes_from_the_card_not_the_method(models, tmp_path):
    card = read_card(models["frame"])
    assert card.fully_convolutional and ImageTranslator(Translator(model=str(models["frame"])).model).fixed_size is None
    fixed = Translator(model=str(models["frame"])).model
    fixed.card.fully_convolutional = False  # a cyclegan card saying its generator has a fixed size
    assert ImageTranslator(fixed).fixed_size == (64, 64)
    old = {"name": "old", "method": "acgan", "mode": "face", "size": 64,
           "generators": {"AtoB": {"class": "ACGANTranslator", "kwargs": {}}}}  # fmt: skip
    assert not ModelCard.from_dict(old).fully_convolutional  # written before the card had the field
    old["generators"]["AtoB"]["class"] = "ResnetGenerator"
    assert ModelCard.from_dict(old).fully_convolutional


def test_face_mode_changes_only_the_face(models, face_clip):
    from vidswap.faces.align import warp_to_frame
    from vidswap.pipeline.faces import FaceSettings, face_processor, plan_faces

    translator = Translator(model=str(models["face"]), backend="torch")
    settings = FaceSettings(color_match=False)
    plan = plan_faces(face_clip, 64, settings)
    assert plan.tracks == 1 and len(plan.alignments) >= 10
    frames = frames_of(face_clip)
    outputs = face_processor(translator._translate, plan, settings)(frames)
    for frame, out in zip(frames, outputs):
        alignments = plan.alignments.get(frame.index, [])
        if not alignments:
            assert np.array_equal(frame.image, out)
            continue
        reach = warp_to_frame(np.ones((64, 64), np.float32), alignments[0]) > 0
        assert np.array_equal(frame.image[~reach], out[~reach])  # outside the face: untouched
        assert psnr(frame.image[reach], out[reach]) < 30  # inside: translated


def test_a_model_trained_with_a_face_mask_pastes_the_face_only(tmp_path):
    """train.face_mask tells a model to neglect the crop's background: apply must not paste it."""
    image = astronaut()
    plain = tiny_model(tmp_path / "plain", "face")
    masked = tiny_model(tmp_path / "masked", "face", extra={"config": {"train": {"face_mask": 0.9}}})
    outputs = [Translator(model=str(m), backend="torch")._translate_still(image, "a.png")[0] for m in (plain, masked)]
    changed = [np.abs(out.astype(int) - image).sum(-1) > 2 for out in outputs]
    assert changed[1].sum() > 500  # the face is still translated
    assert changed[1].sum() < 0.7 * changed[0].sum()
    assert not (changed[1] & ~changed[0]).any()  # and nothing outside the whole-crop paste


def test_face_mode_apply_end_to_end_with_preview(models, face_clip, tmp_path):
    out = tmp_path / "face_out.mp4"
    preview = tmp_path / "face_out.preview.mp4"
    translator = Translator(TranslatorSettings(model=str(models["face"]), backend="onnx"))
    planned = []  # when the face pass reached each frame (slowed down to stand out)
    on_plan_frame = lambda _: (planned.append(time.perf_counter()), time.sleep(0.05))  # noqa: E731
    result = translator.apply(face_clip, out, VideoSettings(preview=str(preview)), on_plan_frame=on_plan_frame)
    finished = time.perf_counter()
    assert result.frames == 12 == len(frames_of(out))
    # frames/s counts the face pass too, not only the streaming pass after it
    assert result.seconds >= finished - planned[0] - 0.05
    assert audio_packets(out) == audio_packets(face_clip)
    side = frames_of(preview)
    assert len(side) == 12 and side[0].image.shape == (120, 320, 3)


def test_face_mode_with_a_model_below_the_aligners_smallest_crop(face_clip, tmp_path):
    """A 32 px face model (what `train --config tiny` makes): faces are aligned at 64 px,
    shrunk to 32 for the model and brought back for pasting."""
    model = tiny_model(tmp_path / "tiny32", "face", size=32)
    out = tmp_path / "out.mp4"
    result = Translator(model=str(model), backend="torch").apply(face_clip, out)
    assert result.frames == len(frames_of(face_clip))
    changed = [
        np.abs(a.image.astype(int) - b.image.astype(int)).max() for a, b in zip(frames_of(face_clip), frames_of(out))
    ]
    assert min(changed) > 40  # the face was replaced in every frame


@pytest.mark.slow
def test_a_face_much_larger_than_the_model_is_named_before_the_run_and_detail_can_be_restored(
    face_clip, tmp_path, capsys
):
    model = tiny_model(tmp_path / "tiny32", "face", size=32)
    plain, restored = tmp_path / "plain.mp4", tmp_path / "restored.mp4"
    code, _, err = run_cli(["apply", str(face_clip), "-m", str(model), "-o", str(plain)], capsys)
    assert code == 0
    notes = [line for line in err.splitlines() if "the model's 32 px" in line]
    assert len(notes) == 1 and "--face-detail restore" in notes[0]  # said once, not again at the end
    assert err.index("the model's 32 px") < err.index("wrote")
    code, _, err = run_cli(["apply", str(face_clip), "-m", str(model), "-o", str(restored), "--face-detail",
                            "restore"], capsys)  # fmt: skip
    assert code == 0 and "the model's 32 px" not in err
    detail = [high_frequency_energy(f.image) for f in frames_of(restored)]
    soft = [high_frequency_energy(f.image) for f in frames_of(plain)]
    assert np.mean(detail) > 1.5 * np.mean(soft)


def test_no_face_is_one_clear_error(models, clips, tmp_path):
    from vidswap.errors import NoFaceError

    with pytest.raises(NoFaceError, match="no face found"):
        Translator(model=str(models["face"])).apply(clips["cfr"], tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("settings, fragment", [({"fp16": True}, "CUDA"), ({"backend": "tensorrt"}, "tensorrt")])
def test_a_backend_that_cannot_run_here_is_refused_before_any_work(models, settings, fragment):
    import torch

    from vidswap.errors import VidswapError

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: these choices may run")
    with pytest.raises(VidswapError, match=fragment):
        Translator(TranslatorSettings(model=str(models["face"]), **settings))


def test_keep_faceless_copies_a_faceless_clip_through(models, clips, tmp_path):
    from vidswap.pipeline.faces import FaceSettings

    settings = TranslatorSettings(model=str(models["face"]), face=FaceSettings(keep_faceless=True))
    result = Translator(settings).apply(clips["cfr"], tmp_path / "o.mp4")
    before, after = frames_of(clips["cfr"]), frames_of(tmp_path / "o.mp4")
    assert result.frames == len(after) == len(before)
    assert min(psnr(a.image, b.image) for a, b in zip(before, after)) > 35  # untouched, only re-encoded
    assert any("no face found" in w for w in result.warnings)


@pytest.mark.slow  # two batches, each starting a worker process that loads MTCNN
def test_batch_rerun_with_keep_faceless_converts_only_the_clips_that_had_no_face(models, clips, face_clip, tmp_path):
    import shutil

    import vidswap
    from vidswap.pipeline.faces import FaceSettings

    library, out = tmp_path / "library", tmp_path / "out"
    library.mkdir()
    shutil.copy(face_clip, library / "face.mp4")
    shutil.copy(clips["cfr"], library / "plain.mp4")  # panned noise: no face

    def settings(keep_faceless: bool):
        return TranslatorSettings(
            model=str(models["face"]), mode="face", face=FaceSettings(keep_faceless=keep_faceless)
        )

    first = vidswap.batch(library, out, translator=settings(False))
    assert first.converted == ["face.mp4"] and "no face found" in first.failed["plain.mp4"]
    face_output = (out / "face.mp4").stat().st_mtime_ns

    again = vidswap.batch(library, out, translator=settings(True))
    assert again.converted == ["plain.mp4"] and again.failed == {} and again.skipped == 1
    assert any("no face found" in w for w in again.warnings["plain.mp4"])
    assert (out / "face.mp4").stat().st_mtime_ns == face_output  # done work is not redone


def test_flow_smoothing_lowers_the_warping_error_of_a_flickering_translation(clips, tmp_path):
    from vidswap.metrics.warping import warping_error
    from vidswap.pipeline.apply import apply_video
    from vidswap.pipeline.smooth import make_smoother

    rng = np.random.default_rng(0)

    def flicker(frames):  # a translation whose brightness jumps from frame to frame
        return [np.clip(f.image.astype(int) + rng.integers(-40, 40), 0, 255).astype(np.uint8) for f in frames]

    scores = {}
    for mode in ("none", "flow"):
        out = tmp_path / f"{mode}.mp4"
        apply_video(clips["cfr"], out, flicker, smooth=make_smoother(mode))
        pairs = [(a.image, b.image) for a, b in zip(frames_of(clips["cfr"]), frames_of(out))]
        scores[mode] = warping_error(pairs).output
    assert scores["flow"] < 0.5 * scores["none"]
