"""Networks: plain nn.Modules with explicit constructor arguments.

A network is described on disk by {"class": NAME, "kwargs": {...}} and rebuilt with
`build_network`; register every class a saved model may name in NETWORKS.
Generators take and return NCHW RGB tensors in [-1, 1].
"""

from __future__ import annotations

from typing import Any

from torch import nn

from vidswap.nets.acgan import ACGANTranslator
from vidswap.nets.generators import ResnetGenerator


class IdentityGenerator(nn.Module):
    """Returns its input: the built-in `identity` model, and a baseline for benchmarks."""

    def forward(self, x):
        return x.clone()  # a bare `return x` is a graph without nodes, which torch < 2.11 exports to broken ONNX


NETWORKS: dict[str, type[nn.Module]] = {
    "IdentityGenerator": IdentityGenerator,
    "ResnetGenerator": ResnetGenerator,
    "ACGANTranslator": ACGANTranslator,
}


def build_network(spec: dict[str, Any]) -> nn.Module:
    """Rebuild a network from its saved {"class", "kwargs"} description."""
    from vidswap.errors import ModelError

    cls = NETWORKS.get(spec.get("class", ""))
    if cls is None:
        raise ModelError(f"unknown network class {spec.get('class')!r} (known: {', '.join(sorted(NETWORKS))})")
    return cls(**spec.get("kwargs", {}))
