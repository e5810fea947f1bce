"""Bilinear games, shaped so the suite's update schemes (`benchmark.schemes`) play them unchanged.

Deterministic: min_x max_y x*y from (1, 1), equilibrium (0, 0) (Gidel et al. 2019, Section 3).
Stochastic (Chavdarova et al. 2019 and 2021; the `StochasticBilinearGame` of their code):

    min_x max_y (1/n) sum_i  x^T A_i y + a_i^T x + b_i^T y,   [A_i]_kl = 1 iff i = k = l,

with a_i, b_i ~ N(0, 1/d) and n = d = 100; a gradient evaluation sees a minibatch of the n
terms. The mean matrix is I/n, so the equilibrium is x* = -n mean(b), y* = -n mean(a).
x is the minimising player (the suite's generator), y the maximising one (its discriminator).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from benchmark.schemes import Losses


@dataclass(frozen=True)
class BilinearSpec:
    """A bilinear game: `n` terms in dimension `dim`, `batch` terms per gradient evaluation
    (0: all of them, the deterministic game), `init_scale` the players' initial spread."""

    name: str
    dim: int
    n: int
    batch: int
    bias: bool
    init_scale: float


DETERMINISTIC = BilinearSpec("deterministic xy", dim=1, n=1, batch=0, bias=False, init_scale=1.0)
STOCHASTIC = BilinearSpec("stochastic, d = 100", dim=100, n=100, batch=1, bias=True,
                          init_scale=10.0)


class Players2(nn.Module):
    """The two players as the schemes see an ALI model: discriminator and generator parameters."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        super().__init__()
        self.x = nn.Parameter(x)
        self.y = nn.Parameter(y)

    def generator_parameters(self) -> list[nn.Parameter]:
        return [self.x]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [self.y]


class BilinearGame:
    """One bilinear game with its equilibrium; `draw()` and `losses()` as `schemes.Game` has.

    The game's data (a_i, b_i) and the players' start come from `game_seed`; the minibatches
    from `seed`, so seeds vary the noise of the play and not the game itself."""

    discriminator_plays = True  # both players move, as under `train.objective: ali`

    def __init__(self, spec: BilinearSpec, game_seed: int = 0, seed: int = 0):
        self.spec = spec
        g = torch.Generator().manual_seed(game_seed)
        d, n = spec.dim, spec.n
        scale = 1.0 / math.sqrt(d)
        self.a = (torch.randn(n, d, generator=g, dtype=torch.float64) * scale if spec.bias
                  else torch.zeros(n, d, dtype=torch.float64))
        self.b = (torch.randn(n, d, generator=g, dtype=torch.float64) * scale if spec.bias
                  else torch.zeros(n, d, dtype=torch.float64))
        if spec.batch == 0 and not spec.bias:  # the textbook start (1, 1)
            x0 = torch.ones(d, dtype=torch.float64)
            y0 = torch.ones(d, dtype=torch.float64)
        else:
            x0 = torch.randn(d, generator=g, dtype=torch.float64) * scale * spec.init_scale
            y0 = torch.randn(d, generator=g, dtype=torch.float64) * scale * spec.init_scale
        # [A_i]_kk = 1 for k = i (i < d): the diagonal each term carries, as a (n, d) mask.
        self.diag = torch.zeros(n, d, dtype=torch.float64)
        self.diag[torch.arange(min(n, d)), torch.arange(min(n, d))] = 1.0
        if n == 1:
            self.diag[0] = 1.0  # min_x max_y x*y: the one term is the whole game
        mean = self.diag.mean(0)
        self.x_star = -self.b.mean(0) / mean
        self.y_star = -self.a.mean(0) / mean
        self.ali = Players2(x0, y0)
        self.sampler = torch.Generator().manual_seed(seed)
        self.evaluations = 0
        self.step = 0

    def draw(self) -> torch.Tensor:
        """The indices of the terms one gradient evaluation sees."""
        if self.spec.batch == 0:
            return torch.arange(self.spec.n)
        return torch.randint(self.spec.n, (self.spec.batch,), generator=self.sampler)

    def value(self, idx: torch.Tensor) -> torch.Tensor:
        x, y = self.ali.x, self.ali.y
        terms = (self.diag[idx] * x * y).sum(1) + self.a[idx] @ x + self.b[idx] @ y
        return terms.mean()

    def losses(self, draw: torch.Tensor, generator_terms: bool = True) -> Losses:
        """x minimises the game's value, y maximises it (minimises its negative)."""
        self.evaluations += 1
        f = self.value(draw)
        return Losses(loss_g=f, loss_d=-f)

    def distance(self, x: torch.Tensor | None = None, y: torch.Tensor | None = None) -> float:
        """Euclidean distance to the equilibrium of the players (x, y): the live ones by
        default, or others, such as their averages."""
        x = self.ali.x if x is None else x
        y = self.ali.y if y is None else y
        with torch.no_grad():
            return float(torch.sqrt(((x - self.x_star) ** 2).sum()
                                    + ((y - self.y_star) ** 2).sum()))
