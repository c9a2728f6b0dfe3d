"""Training methods, one module each, all with the same small interface:

    method = build(cfg, runtime)       networks, optimizers and state from the config
    method.modules                     name -> nn.Module: every network with weights (checkpointed)
    method.optimizers                  name -> optimizer (checkpointed)
    method.phases                      step boundaries; the learning-rate schedule restarts in each phase
    method.train_step(batch, step)     one pure step over explicit inputs -> {loss name: float}
    method.sample(batch)               image rows for the sample grid (input, translation, reconstruction)
    method.state() / load_state(d)     other state to checkpoint (image pools), as tensors
    method.export()                    name -> generator nn.Module for the model folder
"""

from __future__ import annotations

import importlib

METHOD_MODULES = {
    "cyclegan": "trainer.methods.cyclegan",
    "cut": "trainer.methods.cut",
    "fastcut": "trainer.methods.cut",
    "acgan": "trainer.methods.acgan",
}


def build_method(cfg, runtime):
    return importlib.import_module(METHOD_MODULES[cfg.method]).build(cfg, runtime)
