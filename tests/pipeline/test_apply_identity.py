"""Identity apply through the video layer: frames, timestamps, picture and audio kept."""

import av
import numpy as np
import pytest

from tests.helpers import audio_packets
from vidswap.metrics import psnr
from vidswap.pipeline.apply import apply_video
from vidswap.video import open_video, probe


def identity(frames):
    return [f.image for f in frames]


def frames_of(path):
    with open_video(path) as reader:
        return list(reader)


@pytest.mark.parametrize("name", ["cfr", "vfr", "odd", "rotated"])
def test_identity_keeps_frames_timestamps_picture_and_audio(clips, tmp_path, name):
    source = clips[name]
    out = tmp_path / f"out{source.suffix}"
    result = apply_video(source, out, identity)
    before, after = frames_of(source), frames_of(out)
    assert result.frames == len(before) == len(after)
    assert [f.time for f in after] == pytest.approx([f.time for f in before], abs=1e-6)
    assert min(psnr(a.image, b.image) for a, b in zip(before, after)) > 35
    assert audio_packets(out) == audio_packets(source)  # same bytes, same times


def test_rotated_output_is_upright_without_a_matrix(clips, tmp_path):
    out = tmp_path / "out.mov"
    apply_video(clips["rotated"], out, identity)
    video = probe(out).main_video
    assert video.rotation == 0 and (video.width, video.height) == (64, 96)


def test_start_end_converts_part_and_shifts_time_to_zero(clips, tmp_path):
    out = tmp_path / "part.mp4"
    apply_video(clips["cfr"], out, identity, start=0.4, end=0.8)
    times = [f.time for f in frames_of(out)]
    assert times == pytest.approx([i * 0.04 for i in range(10)], abs=1e-6)
    audio_times = [t for t, _ in audio_packets(out)]
    assert audio_times and min(audio_times) >= -0.05 and max(audio_times) < 0.45


def test_audio_the_container_cannot_hold_is_transcoded(tmp_path):
    from tests.helpers import panned_frames

    source = tmp_path / "opus.mkv"
    with av.open(str(source), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("libopus", rate=48000)
        a.layout = "mono"
        for i, image in enumerate(panned_frames(10, 64, 48)):
            f = av.VideoFrame.from_ndarray(image, format="rgb24")
            f.pts = i
            c.mux(v.encode(f))
        c.mux(v.encode(None))
        for i in range(50):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="flt", layout="mono")
            f.sample_rate, f.pts = 48000, i * 960
            c.mux(a.encode(f))
        c.mux(a.encode(None))
    out = tmp_path / "out.mov"
    apply_video(source, out, identity)
    assert [s.codec for s in probe(out).audio] == ["aac"]
    assert len(frames_of(out)) == 10


def test_failed_translation_leaves_nothing_at_the_output(clips, tmp_path):
    out = tmp_path / "out.mp4"

    def broken(frames):
        if broken.calls == 5:
            raise RuntimeError("model exploded")
        broken.calls += 1
        return identity(frames)

    broken.calls = 0
    with pytest.raises(RuntimeError, match="exploded"):
        apply_video(clips["cfr"], out, broken)
    assert list(tmp_path.iterdir()) == []


def test_batched_translation_keeps_order(clips, tmp_path):
    out = tmp_path / "out.mp4"
    seen = []

    def record(frames):
        seen.append(len(frames))
        return [np.ascontiguousarray(255 - f.image) for f in frames]

    apply_video(clips["cfr"], out, record, batch_size=4)
    assert max(seen) == 4 and sum(seen) == 30
    before, after = frames_of(clips["cfr"]), frames_of(out)
    assert all(psnr(255 - a.image, b.image) > 35 for a, b in zip(before, after))
