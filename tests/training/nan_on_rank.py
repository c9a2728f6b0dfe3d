"""`vidswap train` with one process's batch at one step made of NaN, as a corrupt input would
make it: `python nan_on_rank.py RANK:STEP train ...` (run under torchrun by test_processes)."""

import sys

import torch

from trainer.data import UnpairedSampler
from vidswap.cli.main import main

bad_rank, bad_step = map(int, sys.argv[1].split(":"))
clean_batch = UnpairedSampler.batch


def batch(self, step):
    out = clean_batch(self, step)
    if (self.rank, step) == (bad_rank, bad_step):
        out = {side: torch.full_like(images, float("nan")) for side, images in out.items()}
    return out


UnpairedSampler.batch = batch
main(sys.argv[2:])
