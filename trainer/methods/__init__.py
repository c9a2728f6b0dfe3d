"""The training methods, registered in one place.

Adding a method is one module in this package (its settings dataclass, validation,
networks and train step, and a `MethodSpec`: see trainer/methods/base.py), its defaults
file configs/<name>.yaml and one line in METHODS below. The config loader
(trainer/config.py), the CLI's --method choices and the model card writer
(trainer/export.py) all read this registry.
"""

from __future__ import annotations

import importlib

from trainer.methods.base import MethodSpec

# name -> the module whose SPEC it is; imported on first use, so the CLI lists the names without loading torch
METHODS: dict[str, str] = {
    "cyclegan": "trainer.methods.cyclegan",
    "cut": "trainer.methods.cut",
    "fastcut": "trainer.methods.cut",  # CUT with configs/fastcut.yaml's defaults
    "acgan": "trainer.methods.acgan",
    "autoencoder": "trainer.methods.autoencoder",
}


def method_spec(name: str) -> MethodSpec:
    return importlib.import_module(METHODS[name]).SPEC
