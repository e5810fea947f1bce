"""Lookahead-minmax (Chavdarova et al. 2021, "Taming GANs with Lookahead-Minmax",
https://arxiv.org/abs/2006.14567): a wrapper over both players' optimizers, any scheme.

Each player keeps slow weights besides its live (fast) ones. Every k training steps, both players
are pulled back toward them at once:

    slow <- slow + alpha (fast - slow);   fast <- slow

The k steps are the game's steps, not each optimizer's: the generator's optimizer steps last in
every scheme (alternating runs its `d_steps` discriminator updates first), so its wrapper counts
the steps and pulls both players after its k-th. The inner optimizers (Adam's moments, a stored
past gradient) are left as they are. The slow weights and the count are part of `state_dict()`,
so a resumed run continues the exact trajectory. `extrapolate()` and the other attributes
reach the inner optimizer, so the extragradient family runs under lookahead unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim import Optimizer


def _check(k: int, alpha: float) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"Invalid k value: {k!r} (an integer >= 0; 0 is off)")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"Invalid alpha value: {alpha!r} (must be in (0, 1])")


class Lookahead:
    """One player's optimizer with slow weights; `pull()` moves both toward each other.

    Every k steps of the leading wrapper, both players:

        slow <- slow + alpha (fast - slow);   fast <- slow

    Args:
        optimizer: the player's optimizer (any torch optimizer).
        k: training steps between pulls; counted only by a wrapper with `follower` or `leads`.
        alpha: the step of the slow weights toward the fast ones, in (0, 1].
        follower: the other player's wrapper, pulled whenever this one pulls (default: None).

    Reference: Chavdarova et al. 2021, "Taming GANs with Lookahead-Minmax",
    https://arxiv.org/abs/2006.14567.
    """

    def __init__(self, optimizer: Optimizer, k: int, alpha: float,
                 follower: Lookahead | None = None) -> None:
        _check(k, alpha)
        if k == 0:
            raise ValueError("Lookahead needs k >= 1")
        self.optimizer = optimizer
        self.k = k
        self.alpha = alpha
        self.follower = follower
        self.steps = 0
        self.slow = [p.detach().clone() for p in self._params()]

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def __getattr__(self, name: str) -> Any:
        # extrapolate(), extrapolation_needs_gradient, param_groups, state, defaults, ...
        if name == "optimizer":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """The inner step; the leader counts it and pulls both players every k-th time."""
        loss = self.optimizer.step(closure)
        if self.follower is not None:
            self.steps += 1
            if self.steps % self.k == 0:
                self.pull()
                self.follower.pull()
        return loss

    @torch.no_grad()
    def pull(self) -> None:
        """slow <- slow + alpha (fast - slow); fast <- slow."""
        for p, slow in zip(self._params(), self.slow, strict=True):
            slow.add_(p - slow, alpha=self.alpha)
            p.copy_(slow)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The inner optimizer's state, the slow weights and the step count."""
        return {"optimizer": self.optimizer.state_dict(),
                "lookahead": {"k": self.k, "alpha": self.alpha, "steps": self.steps,
                              "slow": [s.clone() for s in self.slow]}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a saved state; refuse one taken with other settings."""
        saved = state["lookahead"]
        for key in ("k", "alpha"):
            if saved[key] != getattr(self, key):
                raise ValueError(f"Saved lookahead state has {key} {saved[key]!r} but this "
                                 f"one has {getattr(self, key)!r}")
        if len(saved["slow"]) != len(self.slow):
            raise ValueError("Saved slow weights do not match the optimizer's parameters")
        self.optimizer.load_state_dict(state["optimizer"])
        with torch.no_grad():
            for slow, saved_slow in zip(self.slow, saved["slow"], strict=True):
                slow.copy_(saved_slow)
        self.steps = int(saved["steps"])


def lookahead_pair(opt_d: Optimizer, opt_g: Optimizer, k: int, alpha: float
                   ) -> tuple[Optimizer | Lookahead, Optimizer | Lookahead]:
    """Both players' optimizers under lookahead-minmax; k = 0 returns them unchanged."""
    _check(k, alpha)
    if k == 0:
        return opt_d, opt_g
    follower = Lookahead(opt_d, k, alpha)
    return follower, Lookahead(opt_g, k, alpha, follower=follower)
