import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.faces.helpers import COVERED, N_FRAMES, write_video
from tests.helpers import count_opens
from vidswap.errors import ConfigError, InputError, OutputError
from vidswap.extract import ExtractSettings, ensure_dataset, extract_dataset, read_records
from vidswap.faces import face_template
from vidswap.settings import FACE_MARGIN


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_face_crops_and_records_from_a_video(astronaut_video, detector, tmp_path):
    out = tmp_path / "ds"
    summary = extract_dataset([astronaut_video], out, detector=detector, size=128, min_change=0)
    [stats] = summary.sources
    assert (stats.kind, stats.frames, stats.error) == ("video", N_FRAMES, None)
    visible = N_FRAMES - len(COVERED)
    assert stats.with_face >= visible - 1 and stats.crops == stats.with_face
    records = read_records(out)
    assert len(records) == stats.crops
    assert not {r["frame"] for r in records} & set(COVERED)  # no crop of a hidden face
    template = face_template(128)
    for r in records:
        crop = cv2.imread(str(out / r["crop"]))
        assert crop.shape == (128, 128, 3)
        assert r["source"] == str(astronaut_video.resolve()) and r["track"] == 0
        assert r["time"] == pytest.approx(r["frame"] / 25, abs=1e-3)
        assert r["frame_size"] == [320, 240] and len(r["box"]) == 4
        # the recorded transform takes the recorded landmarks onto the template
        m = np.array(r["transform"])
        eyes = np.array(r["landmarks"])[:2] @ m[:, :2].T + m[:, 2]
        assert np.abs(eyes - template[:2]).max() < 3
    summary_file = json.loads((out / "summary.json").read_text())
    assert summary_file["crops"] == len(records) and summary_file["clips"] == 1


def test_sampling_every_nth_or_k_spread_evenly(astronaut_video, detector, tmp_path):
    every = extract_dataset([astronaut_video], tmp_path / "a", detector=detector, every=5, min_change=0)
    assert every.sources[0].frames == 8  # frames 0, 5, ..., 35
    assert {r["frame"] for r in read_records(tmp_path / "a")} <= set(range(0, N_FRAMES, 5))
    spread = extract_dataset([astronaut_video], tmp_path / "b", detector=detector, max_per_clip=4, min_change=0)
    assert spread.sources[0].frames == 4
    assert [r["frame"] for r in read_records(tmp_path / "b")] == [0, 12, 23, 35]
    with pytest.raises(ConfigError):
        ExtractSettings(every=2, max_per_clip=3)


@pytest.mark.parametrize("mode", ["face", "frame"])
def test_extract_opens_each_clip_once(astronaut_video, detector, tmp_path, monkeypatch, mode):
    """Probe, detection pass and crop pass all read the container the probe opened."""
    opened = count_opens(monkeypatch)
    summary = extract_dataset([astronaut_video], tmp_path / "ds", detector=detector, mode=mode, every=3,
                              min_change=0)  # fmt: skip
    assert summary.sources[0].frames == -(-N_FRAMES // 3) and summary.sources[0].crops > 0
    assert opened.count(astronaut_video.resolve()) == 1


def test_largest_keeps_the_main_face_when_a_bigger_one_flashes_by(astronaut, grace, detector, tmp_path):
    small = cv2.resize(astronaut[40:200, 140:300], (100, 100))  # a ~55 px face
    big = cv2.resize(grace[100:380, 150:380], (150, 183))  # a ~100 px face
    frames = []
    for i in range(10):
        frame = np.full((240, 360, 3), 120, np.uint8)
        frame[60:160, 20 + i : 120 + i] = small
        # the bigger face, in one frame only (less area over the clip); frame 8 is searched
        # (consecutive frames are detected every 8 and followed between)
        if i == 8:
            frame[30:213, 190:340] = big
        frames.append(frame)
    video = write_video(tmp_path / "two.mp4", frames)
    extract_dataset([video], tmp_path / "main", detector=detector, min_change=0)
    main = read_records(tmp_path / "main")
    assert len(main) == 10 and all(r["box"][2] < 140 for r in main), [r["box"] for r in main]  # the small face
    extract_dataset([video], tmp_path / "all", detector=detector, faces="all", min_change=0)
    both = read_records(tmp_path / "all")
    assert len(both) == 11 and {r["track"] for r in both} == {0, 1}


def test_near_duplicates_are_skipped(astronaut, tmp_path):
    still = write_video(tmp_path / "still.mp4", [astronaut[:240, :320]] * 10)
    summary = extract_dataset([still], tmp_path / "ds", mode="frame", size=64)
    assert (summary.sources[0].crops, summary.sources[0].duplicates) == (1, 9)
    assert cv2.imread(str(tmp_path / "ds" / read_records(tmp_path / "ds")[0]["crop"])).shape == (64, 64, 3)


def test_images_and_folders_recursively(astronaut, grace, detector, tmp_path):
    photos = tmp_path / "photos"
    (photos / "nested").mkdir(parents=True)
    cv2.imwrite(str(photos / "astronaut.png"), astronaut[..., ::-1])
    cv2.imwrite(str(photos / "nested" / "grace.jpg"), grace[..., ::-1])
    (photos / "notes.txt").write_text("not an image")
    summary = extract_dataset([photos], tmp_path / "ds", detector=detector, size=64, image_format="jpg")
    assert [(Path(s.source).name, s.kind, s.crops) for s in summary.sources] == [
        ("astronaut.png", "image", 1),
        ("grace.jpg", "image", 1),
    ]
    records = read_records(tmp_path / "ds")
    assert all(r["crop"].endswith(".jpg") and r["frame"] == 0 and r["time"] is None for r in records)


def test_a_rerun_does_no_work_and_a_new_clip_is_added(astronaut_video, astronaut, detector, tmp_path):
    out = tmp_path / "ds"
    extract_dataset([astronaut_video], out, detector=detector, every=4)
    before = snapshot(out)
    again = extract_dataset([astronaut_video], out, detector=detector, every=4)
    assert again.processed == 0 and again.sources[0].skipped
    assert snapshot(out) == before  # not one file rewritten
    cv2.imwrite(str(tmp_path / "photo.png"), astronaut[..., ::-1])
    more = extract_dataset([tmp_path / "photo.png"], out, detector=detector, every=4)
    assert more.processed == 1
    assert len(read_records(out)) == sum(k.startswith("crops/") for k in before) + 1
    with pytest.raises(ConfigError, match="other settings"):
        extract_dataset([astronaut_video], out, detector=detector, every=2)


def test_an_interrupted_run_leaves_whole_crops_and_resumes(astronaut_video, astronaut, detector, tmp_path):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), astronaut[..., ::-1])
    clean = tmp_path / "clean"
    extract_dataset([photo, astronaut_video], clean, detector=detector, every=3)

    out = tmp_path / "ds"

    def kill_mid_video(event):
        if event.source.suffix == ".mp4" and event.frames_done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_dataset([photo, astronaut_video], out, detector=detector, every=3, progress=kill_mid_video)
    assert not list(out.rglob("*partial*"))
    assert len(list((out / "sources").glob("*.json"))) == 1  # the photo finished, the clip did not
    for crop in (out / "crops").rglob("*.png"):
        assert cv2.imread(str(crop)) is not None

    resumed = extract_dataset([photo, astronaut_video], out, detector=detector, every=3)
    assert [s.skipped for s in resumed.sources] == [True, False]
    assert read_records(out) == read_records(clean)


def test_bad_sources(astronaut_video, detector, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        extract_dataset([tmp_path / "missing.mp4"], tmp_path / "ds", detector=detector)
    assert not (tmp_path / "ds").exists()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(os.urandom(4000))
    with pytest.raises(InputError, match="no source could be read"):
        extract_dataset([broken], tmp_path / "ds", detector=detector)
    assert not (tmp_path / "ds").exists()  # nothing half-made left behind
    summary = extract_dataset([broken, astronaut_video], tmp_path / "ds", detector=detector, every=6)
    assert [s.error is not None for s in summary.sources] == [True, False]
    assert len(summary.failed) == 1 and "broken.mp4" in summary.failed[0].error
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    with pytest.raises(OutputError):
        extract_dataset([astronaut_video], tmp_path / "other", detector=detector)
    with pytest.raises(ConfigError):
        extract_dataset([astronaut_video], tmp_path / "ds2", size=1024)


def test_ensure_dataset_caches_on_sources_and_settings(astronaut_video, detector, tmp_path):
    cache = tmp_path / "cache"
    first = ensure_dataset([astronaut_video], cache, detector=detector, every=6)
    before = snapshot(first)
    assert read_records(first)
    assert ensure_dataset([astronaut_video], cache, detector=detector, every=6) == first
    assert snapshot(first) == before
    other = ensure_dataset([astronaut_video], cache, detector=detector, every=9)
    assert other != first
    os.utime(astronaut_video, ns=(1, 1))  # the clip changed
    assert ensure_dataset([astronaut_video], cache, detector=detector, every=6) not in (first, other)


def test_cli_extract(astronaut, tmp_path):
    from click.testing import CliRunner

    from vidswap.cli.main import cli

    cv2.imwrite(str(tmp_path / "a.png"), astronaut[..., ::-1])
    runner = CliRunner()
    args = ["extract", str(tmp_path / "a.png"), "-o", str(tmp_path / "ds"), "--size", "64", "--device", "cpu"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "written" in result.output  # the summary table
    assert len(read_records(tmp_path / "ds")) == 1


def test_cli_errors_are_one_line(tmp_path, capsys):
    from vidswap.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["extract", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "ds")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"vidswap: error: {tmp_path / 'nope.mp4'}: no such file or folder"]
    with pytest.raises(SystemExit) as exc:
        main(["extract", str(tmp_path), "-o", str(tmp_path / "ds"), "--every", "2", "--max-per-clip", "3"])
    assert exc.value.code == 2


def test_train_from_raw_videos_in_face_mode_below_the_aligners_smallest_crop(astronaut_video, tmp_path):
    """The tiny preset trains at 32 px; faces are aligned at 64 px (the smallest the
    aligner makes) and the loader shrinks them."""
    from click.testing import CliRunner

    from vidswap.cli.main import cli
    from vidswap.models import load_model

    store = tmp_path / "models"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--source",
            str(astronaut_video),
            "--target",
            str(astronaut_video),
            "--method",
            "fastcut",
            "--config",
            "tiny",
            "--mode",
            "face",
            "--name",
            "small",
            "--models-dir",
            str(store),
        ],
    )
    assert result.exit_code == 0, result.output
    card = load_model("small", models_dir=store).card
    assert (card.mode, card.size, card.steps) == ("face", 32, 4) and card.data["A"]["images"] > 0


def test_a_model_keeps_its_crops_margin_and_apply_aligns_faces_the_same_way(astronaut_video, detector, tmp_path):
    """A dataset extracted with a tighter --margin trains a model whose card records it, and
    apply aligns faces with it (not the default); datasets of different margins do not mix."""
    from click.testing import CliRunner

    from vidswap.cli.main import cli
    from vidswap.pipeline.translator import Translator

    tight, loose = tmp_path / "tight", tmp_path / "loose"
    extract_dataset([astronaut_video], tight, size=64, every=4, margin=0.1, detector=detector)
    extract_dataset([astronaut_video], loose, size=64, every=4, detector=detector)
    store = tmp_path / "models"

    def train(source, target, name):
        args = ["--source", str(source), "--target", str(target), "--method", "fastcut", "--config", "tiny"]
        return CliRunner().invoke(cli, ["train", *args, "--name", name, "--models-dir", str(store)])

    result = train(tight, tight, "tight")
    assert result.exit_code == 0, result.output
    translator = Translator(model="tight", models_dir=store)
    assert translator.model.card.extra["config"]["data"]["margin"] == 0.1
    assert translator.settings.face.margin == 0.1
    assert train(loose, loose, "loose").exit_code == 0
    assert Translator(model="loose", models_dir=store).settings.face.margin == FACE_MARGIN
    mixed = train(tight, loose, "mixed")
    assert mixed.exit_code != 0 and "different margins" in str(mixed.exception)


@pytest.mark.footage
@pytest.mark.slow
def test_real_footage_faces_in_every_clip_upright_and_centred(detector, tmp_path):
    from tests.faces.helpers import FOOTAGE

    if not FOOTAGE.is_dir():
        pytest.skip(f"no real footage at {FOOTAGE}")
    sources = [FOOTAGE / "asl", FOOTAGE / "hello"]
    out = tmp_path / "ds"
    summary = extract_dataset(sources, out, max_per_clip=5, size=128)
    assert summary.clips == 24 and not summary.failed
    for stats in summary.sources:
        assert stats.with_face >= 0.95 * stats.frames, stats
    # re-detected in the crops, the faces sit upright on the template
    template = face_template(128)
    records = read_records(out)
    sample = records[:: max(1, len(records) // 24)]
    for record, found in zip(sample, detector.detect([cv2.imread(str(out / r["crop"]))[..., ::-1] for r in sample])):
        assert len(found) >= 1, record["crop"]
        eyes = found[0].landmarks[:2]
        assert np.abs(eyes - template[:2]).max() < 8, record["crop"]
    before = snapshot(out)
    assert extract_dataset(sources, out, max_per_clip=5, size=128).processed == 0
    assert snapshot(out) == before


def test_consecutive_frames_are_followed_and_give_the_faces_a_search_of_every_frame_gives(
    astronaut_video, detector, full_detector, tmp_path
):
    class Counting:  # the detector, counting the frames MTCNN searches
        def __init__(self, detector):
            self.detector, self.searched = detector, 0

        def __getattr__(self, name):
            return getattr(self.detector, name)

        def detect(self, images):
            self.searched += len(images)
            return self.detector.detect(images)

        def detect_one(self, image):
            return self.detect([image])[0]

    counting = Counting(detector)
    followed = extract_dataset([astronaut_video], tmp_path / "a", detector=counting, min_change=0).sources[0]
    reference = Counting(full_detector)  # full resolution: every frame searched
    searched = extract_dataset([astronaut_video], tmp_path / "b", detector=reference, min_change=0).sources[0]
    assert counting.searched <= N_FRAMES // 2 and reference.searched == N_FRAMES  # followed between searches
    assert abs(followed.faces - searched.faces) <= 0.02 * searched.faces + 1
    assert followed.with_face == searched.with_face
    sampled = Counting(detector)
    extract_dataset([astronaut_video], tmp_path / "c", detector=sampled, every=2, min_change=0)
    assert sampled.searched == N_FRAMES // 2  # frames apart: each one searched
