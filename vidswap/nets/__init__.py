"""Networks: plain nn.Modules with explicit constructor arguments.

A network is described on disk by {"class": NAME, "kwargs": {...}}: `network_spec` writes
it from the arguments every `Network` records when built, `build_network` rebuilds from
it. Register every class a saved model may name in NETWORKS.
Generators take and return NCHW RGB tensors in [-1, 1].
"""

from __future__ import annotations

from typing import Any

from vidswap.errors import ModelError
from vidswap.nets.acgan import ACGANTranslator
from vidswap.nets.autoencoder import LiaeTranslator, SwapTranslator
from vidswap.nets.base import Network
from vidswap.nets.generators import ResnetGenerator


class IdentityGenerator(Network):
    """Returns its input: the built-in `identity` model, and a baseline for benchmarks."""

    def forward(self, x):
        return x.clone()  # a bare `return x` is a graph without nodes, which torch < 2.11 exports to broken ONNX


NETWORKS: dict[str, type[Network]] = {
    "IdentityGenerator": IdentityGenerator,
    "ResnetGenerator": ResnetGenerator,
    "ACGANTranslator": ACGANTranslator,
    "SwapTranslator": SwapTranslator,
    "LiaeTranslator": LiaeTranslator,
}


def _registered(name: str) -> type[Network]:
    cls = NETWORKS.get(name)
    if cls is None:
        raise ModelError(f"unknown network class {name!r} (known: {', '.join(sorted(NETWORKS))})")
    return cls


def network_spec(net: Network) -> dict[str, Any]:
    """The {"class", "kwargs"} description that rebuilds `net` (an error now, not when loading,
    if its class is not one a model may name)."""
    _registered(type(net).__name__)
    return {"class": type(net).__name__, "kwargs": dict(net.kwargs)}


def build_network(spec: dict[str, Any]) -> Network:
    """Rebuild a network from its saved {"class", "kwargs"} description."""
    return _registered(spec.get("class", ""))(**spec.get("kwargs", {}))
