"""Audio that starts before the video (a camera or an edit that begins the sound first) is
copied whole in every mode: face mode, whose face pass hands its finished container to the
audio copy, once lost every packet before the first video frame."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import astronaut, audio_packets, make_video, run_cli

VIDEO_START_MS = 850  # the video's first frame, 0.85 s after the audio's first packet


@pytest.fixture(scope="module")
def late_video(tmp_path_factory):
    """The astronaut's face for 12 frames starting at 0.85 s, with 1.5 s of audio from 0 s."""
    image = astronaut()
    frames = [np.ascontiguousarray(image[10 + i : 130 + i, 150 + 2 * i : 310 + 2 * i]) for i in range(12)]
    pts = [VIDEO_START_MS + 40 * i for i in range(12)]
    clip = make_video(tmp_path_factory.mktemp("late") / "late.mp4", frames, pts=pts, audio_seconds=1.5)
    early = [t for t, _ in audio_packets(clip) if t < VIDEO_START_MS / 1000]
    assert len(early) > 30  # the clip really has audio before its video
    return clip


@pytest.mark.parametrize("mode", ["frame", pytest.param("face", marks=pytest.mark.slow)])  # face: MTCNN, ~5 s
def test_apply_copies_the_audio_before_the_first_video_frame(late_video, tmp_path, capsys, mode):
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["-q", "apply", str(late_video), "-m", "identity", "--mode", mode, "-o", str(out)], capsys)
    assert code == 0, err
    assert audio_packets(out) == audio_packets(late_video)
    assert "dropped" not in err


@pytest.mark.slow  # starts a worker process
def test_batch_in_face_mode_copies_the_audio_before_the_first_video_frame(late_video, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run_cli(["-q", "batch", str(late_video.parent), "-o", str(out), "-m", "identity",
                            "--mode", "face"], capsys)  # fmt: skip
    assert code == 0, err
    assert audio_packets(out / "late.mp4") == audio_packets(late_video)
