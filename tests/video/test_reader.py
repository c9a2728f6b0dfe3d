import numpy as np
import pytest

from tests.helpers import astronaut, make_video
from vidswap.errors import InputError
from vidswap.metrics import psnr
from vidswap.video import open_video, read_frames
from vidswap.video.probe import packet_timestamps


def test_frames_carry_exact_source_timestamps(clips):
    stamps, time_base = packet_timestamps(clips["vfr"])
    with open_video(clips["vfr"]) as reader:
        frames = list(reader)
    assert [f.pts for f in frames] == stamps
    assert [f.time for f in frames] == [float(p * time_base) for p in stamps]
    assert [f.index for f in frames] == list(range(20))
    assert frames[0].image.dtype == np.uint8 and frames[0].image.shape == (64, 96, 3)


def test_rotated_video_is_turned_upright(tmp_path):
    # a marker in the top-left corner of the upright picture, stored turned by 90 degrees
    upright = np.zeros((64, 96, 3), np.uint8)
    upright[:16, :16] = 255
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # display rotation -90 turns it back
    path = make_video(tmp_path / "r.mov", [stored] * 3, rotation=-90)
    with open_video(path) as reader:
        image = next(iter(reader)).image
    assert image.shape == (64, 96, 3)
    assert image[:16, :16].mean() > 200 and image[-16:, -16:].mean() < 50


def test_truncated_file_gives_the_frames_before_the_cut(clips):
    with open_video(clips["truncated"]) as reader:
        frames = list(reader)
    assert 5 < len(frames) < 30
    with open_video(clips["truncated"].with_name("whole.mkv")) as reader:
        whole = list(reader)
    assert all(psnr(a.image, b.image) > 40 for a, b in zip(frames[:-1], whole))


def test_truncated_mp4_without_index_is_a_clear_error(clips):
    with pytest.raises(InputError):
        with open_video(clips["truncated_mp4"]) as reader:
            list(reader)


def test_partial_read_between_start_and_end(clips):
    with open_video(clips["cfr"], start=0.4, end=0.8) as reader:
        times = [f.time for f in reader]
    assert times == pytest.approx([0.4, 0.44, 0.48, 0.52, 0.56, 0.6, 0.64, 0.68, 0.72, 0.76])


@pytest.mark.parametrize("name", ["cfr", "vfr", "rotated"])
def test_random_access_matches_sequential_decoding(clips, name):
    wanted = [0, 3, 7, 9]
    with open_video(clips[name]) as reader:
        sequential = {f.index: f for f in reader if f.index in wanted}
    for frame in read_frames(clips[name], wanted):
        ref = sequential[frame.index]
        assert (frame.pts, frame.time) == (ref.pts, ref.time)
        # decord converts colour with FFmpeg's fast default (each 2x2 block's chroma as it is),
        # the reader interpolates it: the same picture, the colour edges a little different
        assert psnr(frame.image, ref.image) > 40


def test_decord_reader_used_where_installed(clips):
    decord_reader = pytest.importorskip("vidswap.video.decord_reader", reason="decord extra not installed")
    frames = decord_reader.read_frames_decord(clips["vfr"], [2, 5])
    assert frames is not None and [f.index for f in frames] == [2, 5]


def test_odd_sizes_decode(clips):
    with open_video(clips["odd"]) as reader:
        frames = list(reader)
    assert len(frames) == 12 and frames[0].image.shape == (51, 75, 3)


def test_real_photo_survives_roundtrip(tmp_path):
    image = astronaut()[100:228, 150:278]
    path = make_video(tmp_path / "still.mp4", [image] * 2)
    with open_video(path) as reader:
        assert psnr(next(iter(reader)).image, image) > 35
