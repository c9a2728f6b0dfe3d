"""The base of every network: it records the arguments it was built with.

Like diffusers' `register_to_config`, but without a decorator to forget: a subclass's
`__init__` is wrapped when the class is defined, so `net.kwargs` always holds the
arguments of the outermost constructor call (defaults filled in), which is what a model
card saves and `vidswap.nets.build_network` rebuilds from."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class Network(nn.Module):
    def __init__(self):
        super().__init__()
        self.kwargs: dict[str, Any] = {}  # the constructor's arguments by name (none for a class without __init__)

    def __init_subclass__(cls, **options):
        super().__init_subclass__(**options)
        if "__init__" not in cls.__dict__:
            return  # an inherited __init__ is wrapped already
        init = cls.__init__
        signature = inspect.signature(init)
        if any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
            raise TypeError(f"{cls.__name__}.__init__ takes *args: its arguments could not be saved by name")

        @functools.wraps(init)
        def recording_init(self, *args, **kwargs):
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            init(self, *args, **kwargs)
            # a subclass's call finishes last, so its arguments win over its parent's
            recorded = {}
            for name, value in list(bound.arguments.items())[1:]:
                if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                    recorded.update(value)
                else:
                    recorded[name] = value
            self.kwargs = recorded

        cls.__init__ = recording_init


def at_size(x: torch.Tensor, size: int, translate: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """translate(x) for a network that runs only at size x size: x resized to it (anti-aliased)
    and the output back to x's size."""
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return translate(x)
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return F.interpolate(translate(x), size=(h, w), mode="bilinear", align_corners=False).clamp(-1, 1)
