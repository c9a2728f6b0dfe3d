"""`vidswap eval` on small videos made here with PyAV."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from skimage.data import astronaut

from vidswap.cli.main import main

H, W, RATE, SAMPLE_RATE = 128, 160, 25, 16000


def make_video(path, *, frames=10, flicker=0.0, rate=RATE, audio=True, seed=0):
    """A pan across the astronaut (H.264), optionally brightness-flickering, with a tone."""
    rng = np.random.default_rng(seed)
    image = astronaut()
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        video.options = {"crf": "12"}
        sound = container.add_stream("aac", rate=SAMPLE_RATE) if audio else None
        for t in range(frames):
            crop = image[40 + 2 * t : 40 + 2 * t + H, 60 + 4 * t : 60 + 4 * t + W].astype(np.float32)
            crop = np.clip(crop * (1 + rng.uniform(-flicker, flicker)), 0, 255).astype(np.uint8)
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
