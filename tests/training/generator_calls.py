"""`vidswap train` that records, on each process, every generator call as `encode_only
grad_enabled` in `$GENERATOR_CALLS/rank<RANK>.txt`: `python generator_calls.py train ...`
(run under torchrun by test_processes, which compares the ranks' sequences)."""

import os
import sys
from pathlib import Path

import torch

from vidswap.cli.main import main
from vidswap.nets.generators import ResnetGenerator

log = Path(os.environ["GENERATOR_CALLS"]) / f"rank{os.environ['RANK']}.txt"
plain_forward = ResnetGenerator.forward


def forward(self, x, *args, encode_only=False, **kwargs):
    with log.open("a") as f:
        f.write(f"{encode_only} {torch.is_grad_enabled()}\n")
    return plain_forward(self, x, *args, encode_only=encode_only, **kwargs)


ResnetGenerator.forward = forward
main(sys.argv[1:])
