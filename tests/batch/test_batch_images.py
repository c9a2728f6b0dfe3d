"""Folders of images through `vidswap apply DIR` and `vidswap batch`, `batch --dry-run`
(what a run would do, and why, changing nothing) and the JSON of `batch --status`."""

import hashlib
import json
import os

import numpy as np
import pytest

from tests.helpers import run_cli
from tests.photos import ROTATE_CW, grace_hopper, photo_crop, save_photo
from vidswap.api import TranslatorSettings, VideoSettings
from vidswap.pipeline.batch import output_settings
from vidswap.pipeline.jobs import file_digest
from vidswap.pipeline.manifest import MANIFEST_NAME, Manifest


def snapshot(folder):
    """Every file under `folder` with its content hash and mtime: any change shows."""
    return {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def photo_library(root):
    save_photo((root / "trip/day1").mkdir(parents=True) or root / "trip/day1/phone.jpg", photo_crop(),
               orientation=ROTATE_CW)  # fmt: skip
    save_photo(root / "trip/grace.webp", np.ascontiguousarray(grace_hopper()[::4, ::4]))
    alpha = np.full((64, 96), 128, np.uint8)
    save_photo(root / "logo.PNG", photo_crop(), alpha=alpha)
    (root / "trip/broken.jpg").write_bytes((root / "trip/day1/phone.jpg").read_bytes()[:500])
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.mark.slow  # a worker process starts
def test_apply_on_a_folder_mirrors_the_tree_reports_bad_images_and_resumes(tmp_path, capsys):
    library, out = photo_library(tmp_path / "photos"), tmp_path / "out"
    code, stdout, err = run_cli(["apply", str(library), "-o", str(out), "-m", "identity", "--json"], capsys)
    assert code == 1  # one image failed; the others were converted
    assert "trip/broken.jpg: not a readable image" in err and "Traceback" not in err
    records = {r["source"]: r for r in json.loads(stdout)}
    assert set(records) == {"logo.PNG", "trip/broken.jpg", "trip/day1/phone.jpg", "trip/grace.webp"}
    assert records["trip/broken.jpg"]["state"] == "failed" and "not a readable image" in records["trip/broken.jpg"][
        "error"]  # fmt: skip
    done = {k: r for k, r in records.items() if r["state"] == "done"}
    assert len(done) == 3 and all(r["converted_now"] and r["frames"] == 1 for r in done.values())
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name[0] != "."} == {
        "logo.PNG", "trip/day1/phone.jpg", "trip/grace.webp"}  # fmt: skip
    before = snapshot(out)
    code, stdout, _ = run_cli(["apply", str(library), "-o", str(out), "-m", "identity", "--json"], capsys)
    assert code == 1 and not any(r["converted_now"] for r in json.loads(stdout))  # resumed: nothing redone
    assert {k: v for k, v in snapshot(out).items() if not k.startswith(".")} == {
        k: v for k, v in before.items() if not k.startswith(".")}  # fmt: skip


@pytest.mark.parametrize("argv, message", [
    (["-o", "OUT"], "nothing to convert"),
    ([], "give it with -o OUT"),
    (["-o", "OUT", "--preview"], "single input file"),
])  # fmt: skip
def test_apply_on_a_folder_user_errors(tmp_path, capsys, argv, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    code, stdout, err = run_cli(["apply", str(empty), "-m", "identity", "--json", *argv], capsys)
    assert code == 2 and stdout == "" and err.startswith("vidswap: error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()  # nothing made


@pytest.mark.slow  # the run at the end starts a worker process
def test_dry_run_says_what_and_why_and_changes_nothing(tmp_path, capsys):
    library, out = tmp_path / "lib", tmp_path / "out"
    library.mkdir()
    for name in "abcdefg":
        save_photo(library / f"{name}.jpg", photo_crop(48 + 4 * (ord(name) - 97), 32))
    out.mkdir()
    with Manifest(out) as manifest:
        manifest.check_settings(output_settings(TranslatorSettings(model="identity"), VideoSettings()))
        for name in "abcdeg":
            stat = (library / f"{name}.jpg").stat()
            manifest.add(f"{name}.jpg", f"{name}.jpg", stat.st_size, stat.st_mtime_ns)
        for name in "ab":  # done; b's output then went missing
            (out / f"{name}.jpg").write_bytes((library / f"{name}.jpg").read_bytes())
            size, sha = file_digest(out / f"{name}.jpg")
            manifest.set_done(f"{name}.jpg", size=size, sha256=sha, frames=1, seconds=0.1, worker="w0")
        (out / "b.jpg").unlink()
        manifest.set_failed("c.jpg", "not a readable image", permanent=True, worker="w0")
        manifest.set_failed("d.jpg", "MemoryError: out of memory", permanent=False, worker="w0")
        manifest.set_running("e.jpg")  # a run killed while converting it left a temporary file
        (out / ".e.x1y2.partial.jpg").write_bytes(b"half")
    # f.jpg is new; g.jpg changed since it was added
    os.utime(library / "g.jpg", ns=(1, 1))
    before = snapshot(out)

    code, stdout, err = run_cli(["batch", str(library), "-o", str(out), "-m", "identity", "--dry-run", "--json"],
                                capsys)  # fmt: skip
    assert code == 0, err
    plan = {d["source"]: (d["action"], d["why"]) for d in json.loads(stdout)}
    assert {k: a for k, (a, _) in plan.items()} == {
        "a.jpg": "skip", "b.jpg": "convert", "c.jpg": "skip", "d.jpg": "retry", "e.jpg": "convert",
        "f.jpg": "convert", "g.jpg": "convert"}  # fmt: skip
    assert "verified" in plan["a.jpg"][1] and "missing" in plan["b.jpg"][1]
    assert "cannot help" in plan["c.jpg"][1] and "1 attempt(s) left" in plan["d.jpg"][1]
    assert "unfinished" in plan["e.jpg"][1] and plan["f.jpg"][1] == "new" and "changed" in plan["g.jpg"][1]
    assert "would convert 4, retry 1, skip 2" in err
    code, stdout, _ = run_cli(["batch", str(library), "-o", str(out), "-m", "identity", "--dry-run"], capsys)
    assert code == 0 and "a.jpg" in stdout and "would" in stdout  # the table
    code, _, err = run_cli(["batch", str(library), "-o", str(out), "-m", "identity", "--mode", "face", "--dry-run"],
                           capsys)  # fmt: skip
    assert code == 2 and "other settings" in err  # what the run would refuse, refused
    assert snapshot(out) == before  # the manifest, the outputs and the temporary file untouched
    code, _, _ = run_cli(["batch", str(library), "-o", str(tmp_path / "new"), "-m", "identity", "--dry-run"], capsys)
    assert code == 0 and not (tmp_path / "new").exists()

    # the run does what the dry run said
    code, stdout, _ = run_cli(["batch", str(library), "-o", str(out), "-m", "identity", "--json"], capsys)
    converted = {r["source"] for r in json.loads(stdout) if r["converted_now"]}
    assert code == 1 and converted == {k for k, (a, _) in plan.items() if a != "skip"}
    assert not (out / ".e.x1y2.partial.jpg").exists()


def test_status_as_json(tmp_path, capsys):
    out = tmp_path / "out"
    with Manifest(out) as manifest:
        manifest.add("x.jpg", "x.jpg", 10, 1)
        manifest.set_done("x.jpg", size=5, sha256="0" * 64, frames=1, seconds=0.5, worker="w0")
        manifest.add("y.png", "y.png", 10, 1)
        manifest.set_failed("y.png", "not a readable image", permanent=True, worker="w0")
    for argv in (["--status", str(out), "--json"], ["--json", "--status", str(out)]):
        code, stdout, err = run_cli(["batch", *argv], capsys)
        records = json.loads(stdout)
        assert code == 1 and "1 done, 1 failed" in err  # exit 1: a file failed
        assert [(r["source"], r["state"], r["output"]) for r in records] == [
            ("x.jpg", "done", str(out / "x.jpg")), ("y.png", "failed", str(out / "y.png"))]  # fmt: skip
        assert records[0]["fps"] == 2.0 and records[1]["error"] == "not a readable image"
    assert MANIFEST_NAME in os.listdir(out)
