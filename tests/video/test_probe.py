import json

import pytest

from tests.helpers import make_video, panned_frames
from vidswap.errors import InputError
from vidswap.video import count_frames, probe
from vidswap.video.container import open_options


def test_probe_constant_rate_with_audio(clips):
    info = count_frames(probe(clips["cfr"]))
    video = info.main_video
    assert (video.width, video.height, video.codec) == (96, 64, "h264")
    assert video.frame_count == 30 and video.frame_count_exact
    assert video.real_rate == pytest.approx(25, rel=0.01)
    assert not video.variable_rate
    assert [(a.codec, a.sample_rate, a.channels) for a in info.audio] == [("aac", 44100, 2)]
    json.dumps(info.to_dict())  # scripts get plain JSON


def test_probe_variable_rate(clips):
    video = probe(clips["vfr"]).main_video
    assert video.variable_rate
    assert video.real_rate == pytest.approx(1000 / 33, rel=0.05)


def test_probe_rotation_reports_upright_size(clips):
    video = probe(clips["rotated"]).main_video
    assert video.rotation == 270  # -90 degrees, folded
    assert (video.coded_width, video.coded_height) == (96, 64)
    assert (video.width, video.height) == (64, 96)


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "folder", "audio_only"])
def test_unusable_files_raise_one_clear_error(tmp_path, kind):
    path = tmp_path / "bad.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n" * 50)
    elif kind == "folder":
        path.mkdir()
    elif kind == "audio_only":
        import av
        import numpy as np

        path = tmp_path / "tone.m4a"
        with av.open(str(path), "w") as c:
            s = c.add_stream("aac", rate=8000)
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 8000, 0
            c.mux(s.encode(f))
            c.mux(s.encode(None))
    with pytest.raises(InputError) as err:
        probe(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_header_frame_count_without_decoding(tmp_path):
    path = make_video(tmp_path / "c.mp4", panned_frames(7, 32, 32))
    assert probe(path).main_video.frame_count == 7


@pytest.mark.parametrize(("version", "options"), [("18.1.0", {"metadata_errors": "ignore"}), ("19.0.2", {})])
def test_open_options_suit_the_installed_pyav(version, options):
    """PyAV 19 refuses `metadata_errors` (TypeError on every open); earlier versions need it."""
    assert open_options(version) == options
