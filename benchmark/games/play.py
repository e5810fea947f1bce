"""One play of a game: a method, a step size and a seed -> distance to the equilibrium against
gradient evaluations, through the suite's own optimizer registry, update schemes and lookahead."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.games.bilinear import BilinearGame, BilinearSpec
from benchmark.games.methods import METHODS
from benchmark.optimizers import OPTIMIZERS, build_optimizer
from benchmark.schemes import SCHEMES, Players
from optim import lookahead_pair

DIVERGED = 1e6  # a distance this many times the start's: stop, the play has diverged


@dataclass
class Play:
    """Distances to the equilibrium after each step, with the gradient evaluations spent."""

    method: str
    game: str
    lr: float
    seed: int
    evaluations: np.ndarray
    distances: np.ndarray

    @property
    def start(self) -> float:
        return float(self.distances[0])

    @property
    def final(self) -> float:
        return float(self.distances[-1])

    @property
    def relative(self) -> float:
        """Final distance over the start's (inf where the play diverged)."""
        return self.final / self.start if math.isfinite(self.final) else math.inf


def play(method_name: str, spec: BilinearSpec, lr: float, seed: int, budget: int,
         game_seed: int = 0) -> Play:
    """Play `budget` gradient evaluations of the game with one method."""
    method = METHODS.get(method_name)
    torch.manual_seed(seed)
    game = BilinearGame(spec, game_seed=game_seed, seed=seed)
    ali = game.ali
    opt_d = build_optimizer(method.optimizer, ali.discriminator_parameters(), lr, method.options)
    opt_g = build_optimizer(method.optimizer, ali.generator_parameters(), lr, method.options)
    opt_d, opt_g = lookahead_pair(opt_d, opt_g, method.lookahead_k, method.lookahead_alpha)
    scheme = SCHEMES.get(method.scheme)()
    players = Players(game, opt_d, opt_g)  # type: ignore[arg-type]  # duck-typed Game
    per_step = scheme.evaluations_per_step(OPTIMIZERS[method.optimizer]
                                           .extrapolation_needs_gradient)
    averaged = [p.detach().clone() for p in ali.parameters()]
    evaluations, distances = [0], [game.distance()]
    limit = distances[0] * DIVERGED
    for step in range(1, budget // per_step + 1):
        scheme.step(players)
        if method.average:
            with torch.no_grad():
                for avg, p in zip(averaged, ali.parameters(), strict=True):
                    avg.add_(p - avg, alpha=1.0 / step)
        distance = game.distance(*averaged) if method.average else game.distance()
        evaluations.append(game.evaluations)
        distances.append(distance)
        if not math.isfinite(distance) or distance > limit:
            distances[-1] = math.inf
            break
    return Play(method_name, spec.name, lr, seed, np.array(evaluations), np.array(distances))

