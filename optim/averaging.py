"""Averages of a module's parameters over training, evaluated beside the live parameters.

Gidel et al. 2018 report their "Avg" variants with the uniform average of the iterates; the
exponential moving average is the common alternative. Both are functions of the snapshots passed
to `update()` only: the first update sets the average to the parameters, later ones follow

    uniform:  avg_n = avg_{n-1} + (w_n - avg_{n-1}) / n     (the mean of w_1 .. w_n)
    ema:      avg_n = decay * avg_{n-1} + (1 - decay) * w_n

Buffers (BatchNorm running statistics, spectral-norm vectors) are not averaged: the averaged
module takes them from the live module.
"""

import copy
from typing import Any

import torch
from torch import nn

AVERAGE_KINDS: tuple[str, ...] = ("ema", "uniform")


class ParameterAverage:
    """A running average of `module`'s parameters; call `update()` after each optimizer step.

    Args:
        module: the live module whose parameters are averaged.
        kind: `uniform` (mean of all snapshots) or `ema` (exponential moving average).
        decay: the EMA's weight on the old average, in [0, 1) (default: 0.999; unused by
            `uniform`).
    """

    def __init__(self, module: nn.Module, kind: str, decay: float = 0.999) -> None:
        if kind not in AVERAGE_KINDS:
            raise ValueError(f"Invalid average kind: {kind!r} (choose from: "
                             f"{', '.join(AVERAGE_KINDS)})")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"Invalid decay value: {decay} (must be in [0, 1))")
        self.module = module
        self.kind = kind
        self.decay = decay
        self.steps = 0
        self.average: dict[str, torch.Tensor] = {
            name: p.detach().clone() for name, p in module.named_parameters()
        }

    @torch.no_grad()
    def update(self) -> None:
        """Fold the module's current parameters into the average."""
        self.steps += 1
        for name, p in self.module.named_parameters():
            avg = self.average[name]
            if self.steps == 1:
                avg.copy_(p)
            elif self.kind == "uniform":
                avg.add_(p - avg, alpha=1.0 / self.steps)
            else:
                avg.lerp_(p, 1.0 - self.decay)

    def averaged_module(self) -> nn.Module:
        """A deep copy of the module with the averaged parameters and the live buffers."""
        averaged = copy.deepcopy(self.module)
        with torch.no_grad():
            for name, p in averaged.named_parameters():
                p.copy_(self.average[name])
                p.grad = None
        return averaged

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the average exactly."""
        return {
            "kind": self.kind,
            "decay": self.decay,
            "steps": self.steps,
            "average": {name: t.clone() for name, t in self.average.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a saved average; refuse one taken with other settings or another module."""
        for key in ("kind", "decay"):
            if state[key] != getattr(self, key):
                raise ValueError(f"Saved average has {key} {state[key]!r} but this one has "
                                 f"{getattr(self, key)!r}")
        if set(state["average"]) != set(self.average):
            raise ValueError("Saved average does not match the module's parameter names")
        with torch.no_grad():
            for name, t in state["average"].items():
                self.average[name].copy_(t)
        self.steps = int(state["steps"])
