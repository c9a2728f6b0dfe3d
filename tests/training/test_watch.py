"""Watching a run: plain log lines off a terminal, the throughput estimate, report.html, TensorBoard."""

import json
import re
import sys
from html.parser import HTMLParser

import pytest

from tests.helpers import run_cli
from trainer.config import load_config
from trainer.report import Pace, duration, write_report


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def train_args(domains, store, name, *extra):
    a, b = domains
    return ["train", "--source", str(a), "--target", str(b), "--method", "fastcut", "--name", name,
            "--config", "tiny", "--models-dir", str(store), *extra]  # fmt: skip


def test_a_run_logged_to_a_file_shows_its_progress_throughput_and_a_report_page(tmp_path, tiny_domains, capsys):
    every = ("--set", "train.log_every=4", "--set", "train.checkpoint_every=12", "--set", "train.sample_every=12")
    code, _, err = run_cli(train_args(tiny_domains, tmp_path, "watch", "--steps", "24", *every), capsys)
    assert code == 0, err
    lines = err.splitlines()
    logged = [line for line in lines if line.startswith("step ")]
    assert [line.split()[1] for line in logged] == [f"{s}/24" for s in (4, 8, 12, 16, 20, 24)]
    assert re.fullmatch(
        r"step 24/24  D \d+\.\d{3}  G_GAN \d+\.\d{3}  NCE \d+\.\d{3}  \d+\.\d\d steps/s  0s left", logged[-1]
    )
    assert "━" not in err  # no progress bar in a log
    (estimate,) = [line for line in lines if line.startswith("throughput:")]
    assert re.fullmatch(
        r"throughput: \d+\.\d\d steps/s \(steps 2-20\); about \S+ to finish 24 steps \(around .*\)", estimate
    )

    run = tmp_path / ".runs" / "watch"
    info = json.loads((run / "throughput.json").read_text())  # rewritten at the last checkpoint
    assert info["step"] == 24 and info["measured_steps"] == [2, 24] and info["steps_per_second"] > 0
    assert info["seconds_left"] == 0 and info["total_steps"] == 24

    page = (run / "report.html").read_text()
    images = Images()
    images.feed(page)
    plots = [s for s in images.sources if s.startswith("data:image/png;base64,")]
    grids = [s for s in images.sources if not s.startswith("data:")]
    assert len(plots) == 1 and grids == ["samples/step_0000024.png", "samples/step_0000012.png"]
    assert all((run / g).is_file() for g in grids)  # relative to the page: opens from disk
    assert "step <b>24</b> of 24" in page and "finished" in page
    assert "method: fastcut" in page and "loader_threads: 1" in page  # the config
    assert str(tiny_domains[0]) in page and "<td>4</td>" in page  # the data: sources and image counts
    assert not list(run.glob(".*partial*"))


def test_the_report_says_so_when_matplotlib_is_missing(tmp_path, monkeypatch):
    (tmp_path / "losses.jsonl").write_text('{"step": 1, "lr": 0.1, "D": 0.5}\n')
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib.figure -> ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    page = write_report(tmp_path, load_config("cut").to_dict(), None, 1, None).read_text()
    assert "The loss curves need matplotlib, which is not installed" in page and "base64" not in page
    assert "No sample grids yet" in page and "step <b>1</b> of 100000" in page


def test_a_report_that_cannot_be_written_is_one_line_before_any_training(tmp_path, tiny_domains, capsys):
    report = tmp_path / ".runs" / "blocked" / "report.html"
    report.mkdir(parents=True)  # a folder where the page goes: it cannot be written (root ignores modes)
    code, _, err = run_cli(train_args(tiny_domains, tmp_path, "blocked"), capsys)
    assert code == 6
    assert err.splitlines()[-1] == f"vidswap: error: cannot write the training report {report}: Is a directory"
    assert "Traceback" not in err
    assert sorted(p.name for p in report.parent.iterdir()) == ["report.html"]  # no checkpoint, no temporary file


def test_sample_grids_and_losses_go_to_tensorboard(tmp_path, tiny_domains, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    code, _, err = run_cli(train_args(tiny_domains, tmp_path, "board"), capsys)
    assert code == 0, err
    events = EventAccumulator(str(tmp_path / ".runs" / "board" / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("loss/NCE")] == [1, 2, 3, 4]
    assert [e.step for e in events.Images("samples")] == [2, 4]  # tiny: a grid every 2 steps
    assert events.Images("samples")[0].encoded_image_string.startswith(b"\x89PNG")


def test_pace_leaves_out_the_first_step_and_follows_the_recent_window():
    pace = Pace(total=10)
    for step, t in enumerate([5.0, 6.0, 7.0, 8.0, 9.0], start=1):  # step 1, from 0 to 5 s, is warm-up
        pace.tick(step, t)
    assert (pace.rate, pace.seconds_left(5), pace.measured()) == (1.0, 5.0, (2, 5))
    short = Pace(total=100, window=2)
    for step, t in enumerate([0.0, 1.0, 2.0, 2.5, 3.0], start=1):
        short.tick(step, t)
    assert short.rate == 2.0 and short.measured() == (4, 5)
    assert [duration(s) for s in (42, 725, 25_920, 183_600)] == ["42s", "12m05s", "7h12m", "2d03h"]
