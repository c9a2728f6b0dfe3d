"""What a user watches while a run trains: its pace (steps/s and time left), the plain log line for
logs that are not a terminal, `throughput.json`, and `report.html`, a page of the run folder that
opens from disk (loss curves embedded, sample grids linked relative to it, the config, the data)."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import math
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vidswap.errors import OutputError
from vidswap.fsutil import atomic_write_text

LOSS_LOG = "losses.jsonl"
THROUGHPUT = "throughput.json"
REPORT = "report.html"
SAMPLES = "samples"
FIRST_ESTIMATE = 20  # steps of a session after which its speed and time to finish are reported


class Pace:
    """Steps per second over the last `window` steps, and the time left at that pace. The first
    step of a session (caches, the loader filling up) is the reference point, never counted."""

    def __init__(self, total: int, window: int = 500):
        self.total = total
        self._ticks: deque[tuple[int, float]] = deque(maxlen=window + 1)

    def tick(self, step: int, now: float | None = None) -> None:
        self._ticks.append((step, time.perf_counter() if now is None else now))

    @property
    def rate(self) -> float | None:
        if len(self._ticks) < 2:
            return None
        (s0, t0), (s1, t1) = self._ticks[0], self._ticks[-1]
        return (s1 - s0) / max(t1 - t0, 1e-9)

    def seconds_left(self, step: int) -> float | None:
        rate = self.rate
        return None if rate is None else (self.total - step) / rate

    def measured(self) -> tuple[int, int]:
        """The steps the rate is measured over (first, last)."""
        return self._ticks[0][0] + 1, self._ticks[-1][0]


def duration(seconds: float) -> str:
    """42s, 12m05s, 7h12m, 2d03h."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def log_line(step: int, total: int, losses: dict[str, float], pace: Pace) -> str:
    """`step 120/60000  G_A 0.512 ...  2.31 steps/s  7h12m left` (losses, then the pace once known)."""
    parts = [f"step {step}/{total}", *(f"{name} {value:.3f}" for name, value in losses.items())]
    left = pace.seconds_left(step)
    if left is not None:
        parts += [f"{pace.rate:.2f} steps/s", f"{duration(left)} left"]
    return "  ".join(parts)


def throughput(pace: Pace, step: int) -> dict[str, Any]:
    """The measured speed and the estimate to finish, as `throughput.json` holds them."""
    now = dt.datetime.now().astimezone()
    left = pace.seconds_left(step)
    first, last = pace.measured()
    return {
        "steps_per_second": round(pace.rate, 4),
        "measured_steps": [first, last],
        "step": step,
        "total_steps": pace.total,
        "seconds_left": round(left, 1),
        "finish_at": (now + dt.timedelta(seconds=left)).isoformat(timespec="seconds"),
        "updated": now.isoformat(timespec="seconds"),
    }


def throughput_line(info: dict[str, Any]) -> str:
    first, last = info["measured_steps"]
    finish = dt.datetime.fromisoformat(info["finish_at"])
    return (
        f"throughput: {info['steps_per_second']:.2f} steps/s (steps {first}-{last}); about "
        f"{duration(info['seconds_left'])} to finish {info['total_steps']} steps (around {finish:%Y-%m-%d %H:%M})"
    )


def write_throughput(run_dir: Path, info: dict[str, Any]) -> None:
    _write(run_dir / THROUGHPUT, json.dumps(info, indent=2) + "\n", "throughput file")


def read_losses(run_dir: Path) -> list[dict[str, float]]:
    path = run_dir / LOSS_LOG
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def loss_plot(rows: list[dict[str, float]]) -> str:
    """The loss curves as a base64 PNG: one panel a loss, each step logged (faint) and its running
    mean. ImportError without matplotlib."""
    from matplotlib.figure import Figure

    names = list(dict.fromkeys(k for row in rows for k in row if k not in ("step", "lr")))
    cols = min(4, len(names))
    fig = Figure(figsize=(3.2 * cols, 2.3 * math.ceil(len(names) / cols)), layout="constrained")
    for i, name in enumerate(names):
        ax = fig.add_subplot(math.ceil(len(names) / cols), cols, i + 1)
        steps = np.array([row["step"] for row in rows if name in row], dtype=float)
        values = np.array([row[name] for row in rows if name in row], dtype=float)
        stride = max(1, len(steps) // 2000)
        k = max(1, len(steps) // 100)  # about 100 points of running mean
        ax.plot(steps[::stride], values[::stride], color="tab:blue", alpha=0.25 if k > 1 else 1, linewidth=0.8)
        if k > 1:
            n = len(steps) // k * k
            ax.plot(steps[:n].reshape(-1, k).mean(1), values[:n].reshape(-1, k).mean(1), color="tab:blue")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return base64.b64encode(buf.getvalue()).decode()


def write_report(
    run_dir: Path, config: dict[str, Any], data: dict[str, Any] | None, step: int, pace_info: dict[str, Any] | None
) -> Path:
    """(Re)write run_dir/report.html atomically; OutputError (one line) if it cannot be written."""
    total = config["train"]["steps"]
    esc = html.escape
    finished = step >= total
    status = "finished" if finished else "not finished (this page is rewritten at each checkpoint)"
    body = [
        f"<h1>{esc(run_dir.name)}: {esc(config['method'])}</h1>",
        f"<p>step <b>{step}</b> of {total} ({100 * step / total:.1f}%), {status}. Page written "
        f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}.",
    ]
    if pace_info:
        first, last = pace_info["measured_steps"]
        speed = f"{pace_info['steps_per_second']:.2f} steps/s over steps {first}-{last}"
        body.append(" " + esc(speed if finished else throughput_line(pace_info)) + ".")
    body.append("</p><h2>Losses</h2>")
    rows = read_losses(run_dir)
    if not rows:
        body.append("<p>No losses logged yet.</p>")
    else:
        try:
            body.append(f'<img alt="loss curves" src="data:image/png;base64,{loss_plot(rows)}">')
        except ImportError:
            body.append(
                "<p>The loss curves need matplotlib, which is not installed (<code>pip install matplotlib</code> "
                f'or <code>uv sync --extra demo</code>); the values are in <a href="{LOSS_LOG}">{LOSS_LOG}</a>.</p>'
            )
    grids = sorted((run_dir / SAMPLES).glob("step_*.png"), reverse=True)
    body.append("<h2>Samples</h2><p>Newest first. Rows: the input, its translation, then the reconstruction or "
                "identity the method checks; the same images at every step.</p>")  # fmt: skip
    for grid in grids:
        src = f"{SAMPLES}/{grid.name}"
        body.append(
            f'<figure><a href="{esc(src)}"><img loading="lazy" src="{esc(src)}" alt="{esc(grid.stem)}"></a>'
            f"<figcaption>step {int(grid.stem.split('_')[1])}</figcaption></figure>"
        )
    if not grids:
        body.append("<p>No sample grids yet.</p>")
    body.append("<h2>Data</h2>")
    if data:
        body.append("<table><tr><th>domain</th><th>name</th><th>images</th><th>sources</th></tr>")
        for side, info in data.items():
            sources = "<br>".join(esc(str(s)) for s in info.get("sources", []))
            body.append(
                f"<tr><td>{esc(side)}</td><td>{esc(str(info.get('name', '')))}</td>"
                f"<td>{info.get('images', '')}</td><td>{sources}</td></tr>"
            )
        body.append("</table>")
    body.append(f"<h2>Config</h2><pre>{esc(yaml.safe_dump(config, sort_keys=False))}</pre>")
    body.append(
        f'<p>Files: <a href="{LOSS_LOG}">{LOSS_LOG}</a>, <a href="{THROUGHPUT}">{THROUGHPUT}</a>; '
        "with TensorBoard installed: <code>tensorboard --logdir tensorboard</code> in this folder.</p>"
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(run_dir.name)} - vidswap training</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
    path = run_dir / REPORT
    _write(path, page, "training report")
    return path


_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1400px}img{max-width:100%;image-rendering:pixelated}"
    "figure{display:inline-block;margin:.5em}figcaption{font-size:.9em;color:#555}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
    "pre{background:#f4f4f4;padding:1em}"
)


def _write(path: Path, text: str, what: str) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise OutputError(f"cannot write the {what} {path}: {exc.strerror or exc}") from None
