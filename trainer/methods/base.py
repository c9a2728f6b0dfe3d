"""What a training method is: the `Method` protocol its object follows and the `MethodSpec`
that registers it (trainer/methods/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: the registry is read by the CLI before torch is loaded
    import torch
    from torch import nn

    from trainer.runtime import Runtime

from vidswap.errors import ConfigError


@runtime_checkable
class Method(Protocol):
    """One method's networks, optimizers and training step; the shared loop owns the rest
    (schedule, AMP scaler updates, non-finite checks, checkpoints, samples)."""

    modules: dict[str, nn.Module]  # every network with weights (checkpointed)
    optimizers: dict[str, torch.optim.Optimizer]  # checkpointed
    phases: list[int]  # step boundaries; the learning-rate schedule restarts in each phase

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        """One pure step over explicit inputs -> {loss name: value}; optimizers step through Runtime.step."""

    def sample(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Image rows for the sample grid (input, translation, ...); called in eval mode, without gradients."""

    def state(self) -> dict[str, torch.Tensor]:
        """Other state to checkpoint (image pools), as tensors."""

    def load_state(self, state: dict[str, torch.Tensor]) -> None: ...

    def export(self) -> dict[str, nn.Module]:
        """Generator name -> network for the model folder (each a vidswap.nets.Network)."""


def require(ok: bool, message: str) -> None:
    """A method's validation: ConfigError(message) unless ok."""
    if not ok:
        raise ConfigError(message)


@dataclass(frozen=True)
class MethodSpec:
    """A method as the config loader, the CLI and the model card writer see it."""

    section: str  # its settings' section in the YAML files and --set keys (CUT and FastCUT share "cut")
    settings: type  # the dataclass of that section
    build: Callable[[Any, Runtime], Method]  # (config, runtime) -> the method
    validate: Callable[[Any], None]  # config -> None, or ConfigError naming the bad setting
    fully_convolutional: bool  # its generators take any input size (else they resize to data.size)
    inputs: tuple[str, ...] = ("A", "B")  # the domains its generators translate (train.temporal_mode=flow pairs them)
