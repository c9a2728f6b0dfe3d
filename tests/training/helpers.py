"""Helpers for the training tests."""

import json
import math


def read_losses(run_dir):
    return [json.loads(line) for line in (run_dir / "losses.jsonl").read_text().splitlines()]


def all_finite(row):
    return all(math.isfinite(v) for k, v in row.items() if k != "step")
