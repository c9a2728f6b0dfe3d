"""`vidswap eval` on small videos made here with PyAV."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from PIL import Image
from skimage.data import astronaut

from tests.helpers import count_opens
from vidswap.cli.main import main

H, W, RATE, SAMPLE_RATE = 128, 160, 25, 16000


def make_video(path, *, frames=10, flicker=0.0, rate=RATE, audio=True, seed=0, steady=0):
    """A pan across the astronaut (H.264), optionally brightness-flickering after the first
    `steady` frames, with a tone."""
    rng = np.random.default_rng(seed)
    image = astronaut()
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        video.options = {"crf": "12"}
        sound = container.add_stream("aac", rate=SAMPLE_RATE) if audio else None
        for t in range(frames):
            crop = image[40 + 2 * t : 40 + 2 * t + H, 60 + 4 * t : 60 + 4 * t + W].astype(np.float32)
            gain = 1 + rng.uniform(-flicker, flicker) if t >= steady else 1.0
            crop = np.clip(crop * gain, 0, 255).astype(np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(crop, format="rgb24")))
        container.mux(video.encode())
        if sound:
            samples = np.sin(np.arange(SAMPLE_RATE * frames // rate) * 0.05).astype(np.float32)[None]
            for start in range(0, samples.shape[1], 1024):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[:, start : start + 1024]), format="fltp", layout="mono"
                )
                chunk.sample_rate, chunk.pts = SAMPLE_RATE, start
                container.mux(sound.encode(chunk))
            container.mux(sound.encode())
    return path


def run_eval(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", *map(str, args)])
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def checks(report):
    return {c["name"]: c for c in report["checks"]}


@pytest.fixture
def source(tmp_path):
    return make_video(tmp_path / "in.mp4")


def test_eval_reports_flicker_and_passes_a_faithful_copy(tmp_path, source, capsys):
    output = make_video(tmp_path / "out.mp4", flicker=0.2)
    code, out, _ = run_eval(capsys, source, output, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert report["warping_error"]["pairs"] == 9
    assert report["warping_error"]["ratio"] > 10  # the flicker shows
    assert checks(report)["audio"]["detail"] == "packets copied unchanged"


def test_eval_judges_with_a_second_flow_method(tmp_path, source, capsys):
    output = make_video(tmp_path / "out.mp4", flicker=0.2)
    code, out, _ = run_eval(capsys, source, output, "--json", "--flow", "farneback")
    assert code == 0
    warping = json.loads(out)["warping_error"]
    assert warping["flow"] == "farneback" and warping["pairs"] == 9 and warping["ratio"] > 10
    code, out, _ = run_eval(capsys, source, source, "--flow", "farneback")
    assert code == 0 and "farneback flow" in out


def test_eval_finds_lost_frames_shifted_timing_and_missing_audio(tmp_path, source, capsys):
    output = make_video(tmp_path / "out.mp4", frames=8, rate=30, audio=False)
    code, out, _ = run_eval(capsys, source, output, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is False
    found = checks(report)
    assert (found["frames"]["input"], found["frames"]["output"], found["frames"]["ok"]) == (10, 8, False)
    assert not found["timestamps"]["ok"]
    assert not found["audio"]["ok"] and found["audio"]["output"] == []


def test_eval_table_and_user_errors(tmp_path, source, capsys):
    code, out, _ = run_eval(capsys, source, source)
    assert code == 0 and "warping error" in out and "FAIL" not in out
    code, _, err = run_eval(capsys, source, tmp_path / "missing.mp4")
    assert code == 2 and "no such file" in err and "Traceback" not in err


def test_eval_draws_the_flicker_curve_next_to_the_report(tmp_path, source, capsys):
    source = make_video(tmp_path / "long.mp4", frames=50)
    output = make_video(tmp_path / "out.mp4", frames=50, flicker=0.2, steady=25)  # steady 1 s, then flickers
    code, _, _ = run_eval(capsys, source, output, "--report", tmp_path / "r" / "eval.json")
    assert code == 0
    report = json.loads((tmp_path / "r" / "eval.json").read_text())
    curve = report["flicker_curve"]
    assert [p["start"] for p in curve] == [0.0, 1.0] and sum(p["pairs"] for p in curve) == 49
    assert curve[0]["ratio"] < 1.5 < 5 < curve[1]["ratio"]  # the shimmer shows in the second second
    plot = tmp_path / "r" / "eval.png"
    assert report["flicker_plot"] == str(plot)
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.size == (900, 380)
        pixels = np.asarray(image.convert("RGB"))
    assert ((pixels == (200, 40, 40)).all(-1)).sum() > 50  # the output's line is drawn
    assert not list((tmp_path / "r").glob(".*partial*"))


def test_eval_plot_defaults_to_next_to_the_output(tmp_path, source, capsys):
    code, out, _ = run_eval(capsys, source, source)
    assert code == 0 and "flicker curve:" in out
    assert (tmp_path / "in.flicker.png").is_file()


@pytest.mark.parametrize("plot", ["blocked/plot.png", "plot.jpg"])
def test_eval_refuses_a_bad_plot_path_in_one_line(tmp_path, source, capsys, plot):
    (tmp_path / "blocked").write_text("a file, not a folder")
    code, out, err = run_eval(capsys, source, source, "--plot", tmp_path / plot)
    assert code == 6 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "in.flicker.png").exists() and not (tmp_path / "plot.jpg").exists()


def test_eval_names_the_flicker_plot_even_with_nothing_to_draw(tmp_path, capsys):
    one = make_video(tmp_path / "one.mp4", frames=1, audio=False)  # a single frame: no pair to measure
    code, out, _ = run_eval(capsys, one, one)
    assert code == 0 and "flicker curve:" in out and "no frame pairs" in out
    assert (tmp_path / "one.flicker.png").is_file()


def test_eval_opens_each_file_once(tmp_path, source, capsys, monkeypatch):
    """The facts, the frames and the audio digest of each file come from one container."""
    output = make_video(tmp_path / "out.mp4", seed=1)
    opened = count_opens(monkeypatch)
    code, _, err = run_eval(capsys, source, output, "--json")
    assert code == 0, err
    assert opened.count(source.resolve()) == 1 and opened.count(output.resolve()) == 1


def test_eval_of_a_still_png_warns_of_nothing(tmp_path, capsys):
    still = tmp_path / "still.png"
    Image.fromarray(astronaut()[:H, :W]).save(still)
    code, out, err = run_eval(capsys, still, still, "--json")
    assert code == 0, err
    assert json.loads(out)["warnings"] == [] and "warning" not in err
