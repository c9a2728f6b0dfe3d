"""The real clips in ../shared/footage (skipped where the folder is absent): every clip
probes, and identity apply keeps frames, timing and audio, the damaged Ogg included."""

import pytest

from tests.helpers import FOOTAGE, audio_packets
from vidswap.pipeline.apply import EncodeOptions, apply_video
from vidswap.video import default_output_path, open_video, probe

pytestmark = pytest.mark.footage

CLIPS = sorted(p for p in FOOTAGE.glob("*/*") if p.suffix in {".mkv", ".mp4", ".avi", ".mpeg", ".ogg", ".mov"})
# the whole collection for probing; for the slower apply, all but 18 of the 20 sign clips
APPLIED = [p for p in CLIPS if p.parent.name != "asl" or p.stem in ("brother", "yes")]


def test_footage_is_there():
    assert len(CLIPS) >= 25


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.name)
def test_every_clip_probes(clip):
    info = probe(clip)
    video = info.main_video
    assert video.width > 0 and video.height > 0 and video.real_rate
    if clip.name == "iphone_rotated.mov":
        assert (video.rotation, video.width, video.height) == (270, 320, 568)
    if clip.name == "phone_vfr.mp4":
        assert video.variable_rate


@pytest.mark.slow
@pytest.mark.parametrize("clip", APPLIED, ids=lambda p: p.name)
def test_identity_apply_keeps_frames_timing_and_audio(clip, tmp_path):
    out = tmp_path / default_output_path(clip).name
    result = apply_video(clip, out, lambda frames: [f.image for f in frames], encode=EncodeOptions(preset="ultrafast"))
    with open_video(clip) as reader:
        source_times = [f.time for f in reader]
    with open_video(out) as reader:
        output_times = [f.time for f in reader]
    assert result.frames == len(source_times) == len(output_times)
    # Matroska keeps milliseconds; MP4 keeps the source's own time base
    assert output_times == pytest.approx(source_times, abs=0.0006)
    if clip.suffix == ".ogg":  # damaged: the frames it could read, and a warning
        assert result.warnings and len(source_times) > 58
    else:
        assert audio_packets(out) == audio_packets(clip)
