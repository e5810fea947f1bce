"""The bilinear validation study plays the suite's own schemes and optimizers: the textbook
behaviours come out where theory gives them exactly, and the CLI writes its tables and figure."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark.games import study
from benchmark.games.bilinear import DETERMINISTIC, STOCHASTIC, BilinearGame
from benchmark.games.play import play


def test_simultaneous_gda_through_the_scheme_grows_by_sqrt_1_plus_eta_squared() -> None:
    p = play("sim_gda", DETERMINISTIC, 0.1, 0, 50)
    np.testing.assert_allclose(p.distances[1:] / p.distances[:-1], math.sqrt(1.01), rtol=1e-12)
    assert list(p.evaluations[:3]) == [0, 1, 2]  # one gradient evaluation per step


def test_alternating_gda_stays_bounded_and_extragradient_converges() -> None:
    alternating = play("alt_gda", DETERMINISTIC, 0.1, 0, 2000)
    assert alternating.distances.max() < 1.2 * alternating.start
    assert alternating.relative > 0.8
    extra = play("extra_sgd", DETERMINISTIC, 0.1, 0, 2000)
    assert extra.relative < 0.05
    assert list(extra.evaluations[:3]) == [0, 2, 4]  # extragradient costs two per step


def test_stochastic_game_equilibrium_zeroes_the_mean_gradient() -> None:
    game = BilinearGame(STOCHASTIC, game_seed=3)
    with torch.no_grad():
        game.ali.x.copy_(game.x_star)
        game.ali.y.copy_(game.y_star)
    loss = game.losses(torch.arange(STOCHASTIC.n)).loss_g
    gx, gy = torch.autograd.grad(loss, [game.ali.x, game.ali.y])
    assert float(gx.abs().max()) < 1e-12 and float(gy.abs().max()) < 1e-12
    assert game.distance() == 0.0


def test_minibatches_depend_on_the_seed_and_the_game_does_not() -> None:
    a, b = BilinearGame(STOCHASTIC, seed=0), BilinearGame(STOCHASTIC, seed=1)
    assert (a.x_star == b.x_star).all()
    assert not all((a.draw() == b.draw()).all() for _ in range(5))


@pytest.mark.parametrize(("expected", "measured", "agree"), [
    ("converges", "converges", True), ("converges", "neither (cycles or stalls)", False),
    ("diverges", "diverges", True), ("diverges", "neither (cycles or stalls)", False),
    ("cycles (bounded, no convergence)", "diverges", True),
    ("does not converge", "converges", False),
    ("unpublished for the Adam form (the SGD form converges)", "diverges", None)])
def test_agreement_with_the_literature(expected: str, measured: str, agree: bool | None) -> None:
    assert study.agrees(expected, measured) is agree


def test_cli_writes_tables_and_figure(tmp_path) -> None:
    assert study.main(["--out", str(tmp_path), "--scale", "0.002", "--methods", "sim_gda",
                       "extra_sgd"]) == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert set(summary["method"]) == {"sim_gda", "extra_sgd"}
    assert set(summary["game"]) == {DETERMINISTIC.name, STOCHASTIC.name}
    assert (tmp_path / "distances.png").stat().st_size > 10_000
    assert "expected (literature)" in (tmp_path / "summary.md").read_text()
