"""`vidswap models pull` and `--available` against a local HTTP server (never the internet):
a good file, a tar and a zip archive, a 404, a refused connection, a cut-off body, a file
that is not a checkpoint, and checksums that do not match."""

from __future__ import annotations

import hashlib
import io
import re
import socket
import tarfile
import threading
import zipfile
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import astronaut, make_video, panned_frames, run_cli
from vidswap import download
from vidswap.catalog import CATALOG, find_published, published_name
from vidswap.errors import ModelError
from vidswap.metrics import psnr
from vidswap.models import (
    load_model,
    read_card,
    resolve_model,
)
from vidswap.nets import ResnetGenerator
from vidswap.pull import pull
from vidswap.video import open_video

VANGOGH_PATH = "/cyclegan/pretrained_models/style_vangogh.pth"
CUT_PATH = "/CUT/pretrained_models.tar"


def checkpoint(seed: int, legacy: bool = True) -> tuple[bytes, dict]:
    """A tiny ResNet generator's state dict in the official files' layout, by default in the
    pickle format of PyTorch before 1.6 (as the CycleGAN project's files are)."""
    torch.manual_seed(seed)
    state = ResnetGenerator(ngf=4, n_blocks=1).state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue(), state


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1: `files` maps a path to its body; paths in `cut` announce
    their full length and send half of it; `drops[path]` responses to that path send 40% of
    what they announce and close the connection; `requests` counts what was asked and `ranges`
    the Range headers. It honours "Range: bytes=N-" (206) except for the paths in `no_range`."""
    files: dict[str, bytes] = {}
    cut: set[str] = set()
    drops: dict[str, int] = {}
    no_range: set[str] = set()
    requests: list[str] = []
    ranges: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            ranges.append(self.headers.get("Range"))
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            asked = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            start = int(asked[1]) if asked and self.path not in no_range else 0
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            rest = body[start:]
            if drops.get(self.path, 0) > 0:
                drops[self.path] -= 1
                self.wfile.write(rest[: len(rest) * 2 // 5])
                self.close_connection = True
            else:
                self.wfile.write(rest[: len(rest) // 2] if self.path in cut else rest)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{httpd.server_port}", files=files, cut=cut, drops=drops,
                          no_range=no_range, requests=requests, ranges=ranges)  # fmt: skip
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch):
    monkeypatch.setattr(download, "RETRY_DELAY", 0.0)


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # Rich tables on one line a row


def pull_cli(capsys, store, mirror, *args):
    return run_cli(["models", "pull", *args, "--models-dir", str(store), "--mirror", mirror], capsys)


def error_line(err: str) -> str:
    """The failure's one line (progress and info lines may come before it; no traceback)."""
    errors = [line for line in err.splitlines() if line.startswith("vidswap: error:")]
    assert len(errors) == 1 and err.strip().endswith(errors[0]) and "Traceback" not in err, err
    return errors[0]


def assert_empty(store: Path):
    assert not store.exists() or list(store.iterdir()) == []  # hidden temp files included


def assert_weights(folder: Path, state: dict):
    loaded = load_model(str(folder)).generator.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_catalog_names_aliases_and_addresses():
    names = [entry.name for entry in CATALOG]
    assert len(names) == len(set(names))
    assert {"style_monet", "style_cezanne", "style_ukiyoe", "style_vangogh", "monet2photo", "horse2zebra",
            "zebra2horse", "summer2winter_yosemite", "winter2summer_yosemite", "apple2orange", "orange2apple",
            "horse2zebra_cut", "cat2dog_cut", "cityscapes_cut"} <= set(names)  # fmt: skip
    assert published_name("van_gogh") == published_name("style_vangogh") == "style_vangogh"
    assert published_name("my_own_model") is None
    vangogh = find_published("van_gogh")
    assert (vangogh.source, vangogh.target) == ("photo", "Van Gogh painting")
    assert vangogh.url == "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/style_vangogh.pth"
    assert all(entry.member for entry in CATALOG if entry.project == "cut")
    with pytest.raises(ModelError, match="did you mean style_vangogh"):
        find_published("style_vangog")


def test_pull_then_apply_by_name_and_by_alias(server, tmp_path, capsys):
    body, state = checkpoint(0)
    server.files[VANGOGH_PATH] = body
    store = tmp_path / "models"
    clip = make_video(tmp_path / "clip.mp4", panned_frames(6, 64, 48))

    code, _, err = run_cli(["apply", str(clip), "-m", "van_gogh", "--models-dir", str(store)], capsys)
    assert code == 4 and "vidswap models pull style_vangogh" in error_line(err)

    code, _, err = pull_cli(capsys, store, server.url, "style_vangogh")
    assert code == 0 and server.url + VANGOGH_PATH in err, err
    card = read_card(store / "style_vangogh")
    assert card.mode == "frame" and card.domains == ["photo", "Van Gogh painting"]
    assert card.extra["source"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert_weights(store / "style_vangogh", state)
    assert [p.name for p in store.iterdir()] == ["style_vangogh"]  # no temp file left beside it

    outputs = []
    for name in ("style_vangogh", "van_gogh"):
        out = tmp_path / f"{name}.mp4"
        code, _, err = run_cli(["apply", str(clip), "-m", name, "--models-dir", str(store), "-o", str(out)], capsys)
        assert code == 0, err
        with open_video(out) as reader:
            outputs.append([frame.image for frame in reader])
    with open_video(clip) as reader:
        inputs = [frame.image for frame in reader]
    assert len(outputs[0]) == len(outputs[1]) == len(inputs) == 6
    assert resolve_model("van_gogh", store) == resolve_model("style_vangogh", store) == store / "style_vangogh"
    assert min(psnr(a, b) for a, b in zip(*outputs)) > 30  # the same model, up to encoding
    assert np.mean([psnr(a, b) for a, b in zip(inputs, outputs[0])]) < 25  # and it translated


def test_available_lists_the_catalog_and_marks_what_is_pulled(server, tmp_path, capsys):
    store = tmp_path / "models"
    server.files[VANGOGH_PATH] = checkpoint(0)[0]
    code, out, _ = run_cli(["models", "--available", "--models-dir", str(store)], capsys)
    assert code == 0
    row = next(line for line in out.splitlines() if "style_vangogh" in line)
    assert "CycleGAN" in row and "photo -> Van Gogh painting" in row and "van_gogh" in row and "yes" not in row
    assert all(entry.name in out for entry in CATALOG)

    # an alias pulls its model; the store may also be given before `pull`
    assert run_cli(["models", "--models-dir", str(store), "pull", "van_gogh", "--mirror", server.url], capsys)[0] == 0
    out = run_cli(["models", "--available", "--models-dir", str(store)], capsys)[1]
    assert "yes" in next(line for line in out.splitlines() if "style_vangogh" in line)
    assert "yes" not in next(line for line in out.splitlines() if "style_monet" in line)
    out = run_cli(["models", "--models-dir", str(store)], capsys)[1]  # the plain listing shows it like any model
    assert "style_vangogh" in out and "photo -> Van Gogh painting" in out and "identity" in out


def test_a_second_pull_needs_force_and_checks_the_recorded_checksum(server, tmp_path, capsys, monkeypatch):
    store = tmp_path / "models"
    first, state = checkpoint(0)
    server.files[VANGOGH_PATH] = first
    assert pull_cli(capsys, store, server.url, "style_vangogh")[0] == 0

    code, _, err = pull_cli(capsys, store, server.url, "style_vangogh")
    assert code == 0 and "already in" in err and len(server.requests) == 1  # nothing downloaded

    monkeypatch.setenv("VIDSWAP_MODEL_MIRROR", server.url)  # the mirror from the environment
    assert run_cli(["models", "pull", "style_vangogh", "--force", "--models-dir", str(store)], capsys)[0] == 0
    assert len(server.requests) == 2  # same file: accepted
    card = (store / "style_vangogh" / "model.json").read_text()

    server.files[VANGOGH_PATH] = checkpoint(1)[0]  # the file changed since the first pull
    code, _, err = pull_cli(capsys, store, server.url, "style_vangogh", "--force")
    assert code == 4 and "checksum mismatch" in error_line(err) and "recorded at its first pull" in err
    assert (store / "style_vangogh" / "model.json").read_text() == card  # the stored model is untouched
    assert_weights(store / "style_vangogh", state)
    assert [p.name for p in store.iterdir()] == ["style_vangogh"]


def test_a_published_checksum_is_checked_on_the_first_pull(server, tmp_path):
    body = checkpoint(0)[0]
    server.files[VANGOGH_PATH] = body
    entry = find_published("style_vangogh")
    with pytest.raises(ModelError, match="checksum mismatch .* published"):
        pull(replace(entry, sha256="0" * 64), tmp_path / "bad", mirror=server.url)
    assert_empty(tmp_path / "bad")
    good = pull(replace(entry, sha256=hashlib.sha256(body).hexdigest()), tmp_path / "good", mirror=server.url)
    assert good == tmp_path / "good" / "style_vangogh"


@pytest.mark.parametrize("failure, exit_code, fragment", [
    ("404", 7, "HTTP 404"),
    ("refused", 7, "refused"),
    ("truncated", 7, "stopped after"),
    ("not a checkpoint", 4, "did not give a PyTorch checkpoint"),
    ("not a generator", 4, "style_vangogh.pth"),
    ("unknown name", 4, "no published model"),
])  # fmt: skip
def test_failures_are_one_line_and_leave_nothing(failure, exit_code, fragment, server, tmp_path, capsys):
    store = tmp_path / "models"
    mirror, name = server.url, "style_vangogh"
    if failure == "refused":
        with socket.socket() as closed:  # a port that was free a moment ago: nothing listens there
            closed.bind(("127.0.0.1", 0))
            mirror = f"http://127.0.0.1:{closed.getsockname()[1]}"
    elif failure == "truncated":
        server.files[VANGOGH_PATH] = checkpoint(0)[0]
        server.cut.add(VANGOGH_PATH)
    elif failure == "not a checkpoint":
        server.files[VANGOGH_PATH] = b"<html>moved</html>" * 100  # a captive portal's page
    elif failure == "not a generator":
        buffer = io.BytesIO()
        torch.save({"classifier.weight": torch.zeros(10, 3)}, buffer)
        server.files[VANGOGH_PATH] = buffer.getvalue()
    elif failure == "unknown name":
        name = "style_picasso"
    code, _, err = pull_cli(capsys, store, mirror, name)
    assert code == exit_code and fragment in error_line(err), err
    assert_empty(store)


def test_cut_archive_tar_zip_and_file_mirror(server, tmp_path):
    """The CUT project's archive holds several generators: only the named one is stored, and
    its checksum is the generator file's."""
    horse, horse_state = checkpoint(0, legacy=False)
    cat = checkpoint(1, legacy=False)[0]
    members = {"checkpoints/horse2zebra_cut_pretrained/latest_net_G.pth": horse,
               "checkpoints/cat2dog_cut_pretrained/latest_net_G.pth": cat}  # fmt: skip
    tarred, zipped = io.BytesIO(), io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as archive:
        for member, body in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    with zipfile.ZipFile(zipped, "w") as archive:
        for member, body in members.items():
            archive.writestr(member, body)
    server.files[CUT_PATH] = tarred.getvalue()
    server.files["/CUT/pretrained_models.zip"] = zipped.getvalue()
    entry = find_published("horse2zebra_cut")

    folder = pull(replace(entry, sha256=hashlib.sha256(horse).hexdigest()), tmp_path / "tar", mirror=server.url)
    assert_weights(folder, horse_state)
    assert read_card(folder).domains == ["horse", "zebra"]
    zip_entry = replace(entry, url=entry.url.replace(".tar", ".zip"))
    assert_weights(pull(zip_entry, tmp_path / "zip", mirror=server.url), horse_state)

    mirror = tmp_path / "mirror"  # a firewalled user's copy of the official paths
    (mirror / "CUT").mkdir(parents=True)
    (mirror / "CUT" / "pretrained_models.tar").write_bytes(tarred.getvalue())
    assert_weights(pull(entry, tmp_path / "file", mirror=mirror.as_uri()), horse_state)

    with pytest.raises(ModelError, match="holds no .*fastcut"):
        pull(find_published("horse2zebra_fastcut"), tmp_path / "missing", mirror=server.url)
    assert_empty(tmp_path / "missing")


def official_tar(bodies: dict[str, bytes]) -> bytes:
    """CUT's archive: each model's generator at checkpoints/NAME_pretrained/latest_net_G.pth."""
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as archive:
        for name, body in bodies.items():
            info = tarfile.TarInfo(f"checkpoints/{name}_pretrained/latest_net_G.pth")
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return tarred.getvalue()


CUT_MODELS = [entry.name for entry in CATALOG if entry.project == "cut"]


def test_the_cut_archive_is_downloaded_once_for_its_six_models(server, tmp_path, capsys):
    bodies = {name: checkpoint(i, legacy=False)[0] for i, name in enumerate(CUT_MODELS)}
    server.files[CUT_PATH] = official_tar(bodies)
    store = tmp_path / "models"
    kept = store / ".downloads" / "cut" / "pretrained_models.tar"
    for i, name in enumerate(CUT_MODELS):
        code, _, err = pull_cli(capsys, store, server.url, name)
        assert code == 0, err
        assert read_card(store / name).extra["source"]["sha256"] == hashlib.sha256(bodies[name]).hexdigest()
        assert kept.is_file() == (i < len(CUT_MODELS) - 1)  # kept until the last of the six is stored
        if i == 0:
            assert name in run_cli(["models", "--models-dir", str(store)], capsys)[1]
    assert server.requests == [CUT_PATH]
    assert sorted(p.name for p in store.iterdir()) == sorted(CUT_MODELS)  # the kept archive's folders are gone
    code, _, err = pull_cli(capsys, store, server.url, CUT_MODELS[0], "--force")  # --force: downloads again
    assert code == 0 and server.requests == [CUT_PATH] * 2, err


def test_a_dropped_connection_is_resumed_with_a_range_request(server, tmp_path):
    body, state = checkpoint(0)
    server.files[VANGOGH_PATH] = body
    server.drops[VANGOGH_PATH] = 2
    folder = pull(find_published("style_vangogh"), tmp_path / "models", mirror=server.url)
    assert_weights(folder, state)
    first = len(body) * 2 // 5
    second = first + (len(body) - first) * 2 // 5
    assert server.ranges == [None, f"bytes={first}-", f"bytes={second}-"]
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["style_vangogh"]


def test_a_server_that_ignores_ranges_gives_the_whole_file_again(server, tmp_path):
    body, state = checkpoint(0)
    server.files[VANGOGH_PATH] = body
    server.drops[VANGOGH_PATH] = 1
    server.no_range.add(VANGOGH_PATH)
    folder = pull(find_published("style_vangogh"), tmp_path / "models", mirror=server.url)
    assert_weights(folder, state)  # the first try's 40% was not kept in front of the whole body
    assert len(server.ranges) == 2 and server.ranges[1] is not None


def test_a_broken_archive_download_is_kept_and_the_next_pull_continues_it(server, tmp_path, capsys):
    body, state = checkpoint(0, legacy=False)
    server.files[CUT_PATH] = official_tar({"horse2zebra_cut": body})
    server.drops[CUT_PATH] = download.ATTEMPTS  # every try of the first pull breaks
    store = tmp_path / "models"
    code, _, err = pull_cli(capsys, store, server.url, "horse2zebra_cut")
    assert code == 7 and "pulling again continues it" in error_line(err)
    part = store / ".downloads" / "cut" / ".pretrained_models.tar.part"
    assert [p.name for p in store.iterdir()] == [".downloads"] and part.is_file()  # no model, no temp folder
    held = part.stat().st_size
    assert 0 < held < len(server.files[CUT_PATH])

    code, _, err = pull_cli(capsys, store, server.url, "horse2zebra_cut")
    assert code == 0, err
    assert server.ranges[-1] == f"bytes={held}-"
    assert_weights(store / "horse2zebra_cut", state)


def test_a_mirror_folder_or_file_url(tmp_path, capsys):
    """A firewalled user's copy of the official paths, given as a folder or a file:// URL."""
    body, state = checkpoint(0)
    mirror = tmp_path / "mirror"
    (mirror / "cyclegan" / "pretrained_models").mkdir(parents=True)
    (mirror / "cyclegan" / "pretrained_models" / "style_vangogh.pth").write_bytes(body)
    for how, given in (("folder", str(mirror)), ("url", mirror.as_uri() + "/")):
        store = tmp_path / how
        code, _, err = pull_cli(capsys, store, given, "style_vangogh")
        assert code == 0, err
        assert_weights(store / "style_vangogh", state)

    store = tmp_path / "bad"
    code, _, err = pull_cli(capsys, store, str(tmp_path / "no-such-mirror"), "style_vangogh")
    assert code == 2 and "is not a folder" in error_line(err)
    code, _, err = pull_cli(capsys, store, str(mirror), "style_monet")  # the folder lacks it
    assert code == 7 and "cannot read file://" in error_line(err) and "style_monet.pth" in err
    assert_empty(store)


def test_force_replaces_a_model_imported_under_a_catalog_name(server, tmp_path, capsys):
    store = tmp_path / "models"
    mine = tmp_path / "my_vangogh.pth"
    mine.write_bytes(checkpoint(1)[0])
    assert run_cli(["import", str(mine), "--name", "style_vangogh", "--models-dir", str(store)], capsys)[0] == 0
    body, state = checkpoint(0)
    server.files[VANGOGH_PATH] = body

    code, _, err = pull_cli(capsys, store, server.url, "style_vangogh")
    assert code == 0 and "imported from my_vangogh.pth" in err and "replaces it" in err and not server.requests
    code, _, err = pull_cli(capsys, store, server.url, "style_vangogh", "--force")
    assert code == 0 and "replacing the model style_vangogh imported from my_vangogh.pth" in err, err
    assert_weights(store / "style_vangogh", state)
    assert read_card(store / "style_vangogh").extra["source"]["published"] == "style_vangogh"
    assert [p.name for p in store.iterdir()] == ["style_vangogh"]


def test_a_stored_model_named_like_an_alias_is_used_and_the_cli_says_so(server, tmp_path, capsys):
    store = tmp_path / "models"
    server.files[VANGOGH_PATH] = checkpoint(0)[0]
    mine = tmp_path / "mine.pth"
    mine.write_bytes(checkpoint(1)[0])
    assert run_cli(["import", str(mine), "--name", "van_gogh", "--models-dir", str(store)], capsys)[0] == 0
    code, _, err = pull_cli(capsys, store, server.url, "style_vangogh")
    assert code == 0 and "--model van_gogh" not in err and "--model vangogh" in err  # the alias left is offered

    photo = tmp_path / "photo.png"
    Image.fromarray(panned_frames(1, 64, 48)[0]).save(photo)
    outputs = {}
    for name in ("van_gogh", "style_vangogh", str(store / "van_gogh")):
        out = tmp_path / f"{Path(name).name}-{len(outputs)}.png"
        code, _, err = run_cli(["apply", str(photo), "-m", name, "--models-dir", str(store), "-o", str(out),
                                "--backend", "torch"], capsys)  # fmt: skip
        assert code == 0, err
        shadowed = "--model van_gogh is the model stored under that name, not the published style_vangogh" in err
        assert shadowed == (name == "van_gogh"), err
        outputs[name] = np.asarray(Image.open(out))
    assert np.array_equal(outputs["van_gogh"], outputs[str(store / "van_gogh")])  # the stored one ran
    assert not np.array_equal(outputs["van_gogh"], outputs["style_vangogh"])


@pytest.mark.slow
def test_a_1080p_clip_runs_at_256_px_with_a_model_pulled_from_a_mirror_folder(tmp_path, capsys):
    body = checkpoint(0)[0]
    mirror = tmp_path / "mirror"
    (mirror / "cyclegan" / "pretrained_models").mkdir(parents=True)
    (mirror / "cyclegan" / "pretrained_models" / "style_vangogh.pth").write_bytes(body)
    store = tmp_path / "models"
    assert pull_cli(capsys, store, str(mirror), "style_vangogh")[0] == 0
    frame = np.asarray(Image.fromarray(astronaut()).resize((1920, 1080), Image.BICUBIC))
    clip = make_video(tmp_path / "clip_1080p.mp4", [frame, frame[:, ::-1].copy()])
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["apply", str(clip), "--model", "style_vangogh", "--models-dir", str(store),
                            "-o", str(out), "--backend", "torch"], capsys)  # fmt: skip
    assert code == 0, err
    assert "translating 1920x1080 frames with the shorter side at 256 px (the model's scale" in err
    with open_video(out) as reader:
        frames = [f.image for f in reader]
    assert len(frames) == 2 and frames[0].shape == (1080, 1920, 3)
    code, _, err = run_cli(["apply", str(clip), "--model", "style_vangogh", "--models-dir", str(store),
                            "-o", str(tmp_path / "full.mp4"), "--work-size", "full", "--backend", "torch"],
                           capsys)  # fmt: skip
    assert code == 0 and "translating 1920x1080 frames at full size" in err
