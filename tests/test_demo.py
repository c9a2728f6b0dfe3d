"""The demo end to end with a tiny budget: every file written, finite figures, reruns."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidswap.cli.main import main
from vidswap.demo import DemoOptions, chunk_speed, run_demo, steps_in, transform
from vidswap.metrics import psnr
from vidswap.video import probe

TINY = ["net.ngf=4", "net.ndf=4", "net.n_blocks=1", "cut.num_patches=8", "cut.mlp_units=8"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "results"
    args = ["demo", "-o", str(out), "--minutes", "0.01", "--steps", "3"] + [f"--set={s}" for s in TINY]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
        raise SystemExit(0)
    assert exit_info.value.code == 0
    return out


@pytest.mark.slow  # the demo trains and applies end to end
def test_demo_writes_every_file_and_a_finite_report(demo_dir, capsys):
    report = json.loads((demo_dir / "report.json").read_text())
    for key, path in report["files"].items():
        assert Path(path).exists(), key
    assert report["steps"] == 3  # the step budget: the first (speed-measuring) chunk already reaches it
    for key in ("psnr_translation", "psnr_input", "gain_db"):
        assert math.isfinite(report[key]), key
    assert report["warping_error"]["pairs"] > 0 and report["warping_error"]["input"] > 0
    # apply's default smoothing can only steady the generator's own output
    assert report["warping_error_unsmoothed"]["output"] >= report["warping_error"]["output"]
    assert report["warping_error_unsmoothed"]["input"] == report["warping_error"]["input"]
    high = report["high_frequency"]
    assert high["truth"] > 0 and high["ratio"] == pytest.approx(high["output"] / high["truth"], abs=1e-3)
    assert high["unsmoothed_ratio"] == pytest.approx(high["unsmoothed"] / high["truth"], abs=1e-3)
    assert set(report["seconds"]) >= {"training", "total"}
    assert "PSNR of the translation" in (demo_dir / "report.md").read_text()


@pytest.mark.slow  # the demo trains and applies end to end
def test_demo_clip_keeps_frames_and_audio(demo_dir):
    names = ("input.mp4", "translated.mp4", "side_by_side.mp4")
    source, translated, preview = (probe(demo_dir / name) for name in names)
    assert len(source.audio) == 1 and len(translated.audio) == 1  # the tone went through
    assert translated.main_video.width == source.main_video.width
    assert preview.main_video.width == 2 * source.main_video.width
    sheet = Image.open(demo_dir / "contact_sheet.png")
    assert sheet.height >= 3 * source.main_video.height  # inputs, translations, true transform


@pytest.mark.slow  # the demo trains and applies end to end
def test_rerun_into_the_same_folder_replaces_the_results(demo_dir):
    before = json.loads((demo_dir / "report.json").read_text())
    report = run_demo(demo_dir, DemoOptions(minutes=0.01, max_steps=2, overrides=TINY, images=8, clip_frames=12))
    after = json.loads((demo_dir / "report.json").read_text())
    assert before["steps"] == 3 and report.steps == after["steps"] == 2
    assert probe(demo_dir / "translated.mp4").main_video.frame_count == 12


def test_unknown_method_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "-o", str(tmp_path), "--method", "acgan"])
    assert exit_info.value.code != 0
    assert not any(tmp_path.iterdir())


def test_transform_is_a_sepia_grade_far_from_the_input():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    graded = transform(image)
    assert graded.dtype == np.uint8 and graded.shape == image.shape
    assert (graded[..., 0] >= graded[..., 1]).all() and (graded[..., 1] >= graded[..., 2]).all()  # brown tint
    assert psnr(image, graded) < 20


def test_chunk_speed_separates_each_chunks_start_up_from_its_steps():
    """Chunks of 20 and 200 steps at 0.1 s a step with 8 s of start-up each: the last chunk
    is sized from 0.1 s a step, not from the 200 steps in 28 s that count the start-up."""
    chunks = [(20, 8 + 2.0), (200, 8 + 20.0)]
    startup, per_step = chunk_speed(chunks)
    assert math.isclose(startup, 8) and math.isclose(per_step, 0.1)
    assert steps_in(108, chunks) == 1000  # 8 s start-up + 1000 x 0.1 s
    assert chunk_speed([(20, 4.0)]) == (0.0, 0.2)  # one chunk: its plain rate
    assert chunk_speed([(20, 10.0), (200, 9.0)]) == (0.0, 19.0 / 220)  # noise that fits no start-up: plain rate
    # every chunk counts: one slowed chunk among three moves the fit less than it would alone
    startup, per_step = chunk_speed([(20, 10.0), (200, 28.0), (400, 60.0)])
    assert 0.1 < per_step < 0.14 and 0 < startup < 8  # the last two alone fit no start-up: 88 s / 600 = 0.147
