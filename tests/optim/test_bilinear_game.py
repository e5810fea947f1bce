"""The bilinear game min_x max_y x*y from (1, 1): the textbook case where simultaneous gradient
descent spirals out and the extragradient family converges (Gidel et al. 2018, Section 3), as do
optimistic GD, alternating GD with negative momentum and lookahead-minmax. Each trajectory is
compared with the closed form the theory gives, in float64."""

import math

import numpy as np
import pytest
import torch

from optim import (
    ExtragradientOptimizer,
    ExtraSGD,
    OptimisticAdam,
    OptimisticSGD,
    PastExtraSGD,
    SignedMomentumSGD,
    lookahead_pair,
)

ETA = 0.1


def set_game_grads(x: torch.Tensor, y: torch.Tensor) -> None:
    """Each player's gradient of its own loss: x minimises x*y, y minimises -x*y."""
    x.grad = None
    y.grad = None
    (gx,) = torch.autograd.grad(x * y, x)
    (gy,) = torch.autograd.grad(-x * y, y)
    x.grad, y.grad = gx, gy


def players() -> tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.tensor(1.0, dtype=torch.float64, requires_grad=True),
        torch.tensor(1.0, dtype=torch.float64, requires_grad=True),
    )


def distances(opt_cls: type[torch.optim.Optimizer], steps: int) -> np.ndarray:
    """Distance to the equilibrium (0, 0) after each update, starting with the initial one."""
    x, y = players()
    opt = opt_cls([x, y], lr=ETA)
    out = [math.hypot(x.item(), y.item())]
    for _ in range(steps):
        if isinstance(opt, ExtragradientOptimizer):
            if opt.extrapolation_needs_gradient:
                set_game_grads(x, y)
            opt.extrapolate()
        set_game_grads(x, y)
        opt.step()
        out.append(math.hypot(x.item(), y.item()))
    return np.array(out)


def test_simultaneous_gd_spirals_out_by_exactly_sqrt_1_plus_eta_squared() -> None:
    d = distances(torch.optim.SGD, 50)
    ratios = d[1:] / d[:-1]
    np.testing.assert_allclose(ratios, math.sqrt(1 + ETA**2), rtol=1e-12)
    assert d[-1] > d[0] * 1.2


def test_extragradient_contracts_by_exactly_its_closed_form_rate() -> None:
    d = distances(ExtraSGD, 100)
    rate = math.sqrt((1 - ETA**2) ** 2 + ETA**2)
    np.testing.assert_allclose(d[1:] / d[:-1], rate, rtol=1e-12)
    np.testing.assert_allclose(d[-1], math.sqrt(2) * rate**100, rtol=1e-10)
    assert d[-1] < 0.7 * d[0]


def past_extragradient_reference(steps: int) -> np.ndarray:
    """Popov's recurrence for F(w) = A w with A = [[0, 1], [-1, 0]]:
    w_{t+1/2} = w_t - eta A w_{t-1/2},  w_{t+1} = w_t - eta A w_{t+1/2};
    the first extrapolation has no stored gradient and stays at w_0."""
    a = np.array([[0.0, 1.0], [-1.0, 0.0]])
    w = np.array([1.0, 1.0])
    half = w.copy()  # w_{1/2} = w_0
    out = [np.linalg.norm(w)]
    for t in range(steps):
        if t > 0:
            half = w - ETA * a @ half
        w = w - ETA * a @ half
        out.append(np.linalg.norm(w))
    return np.array(out)


def test_past_extragradient_follows_popov_recurrence_and_converges() -> None:
    d = distances(PastExtraSGD, 2000)
    np.testing.assert_allclose(d, past_extragradient_reference(2000), rtol=1e-9, atol=1e-15)
    assert d[-1] < 1e-3
    # The envelope shrinks: the maximum over each window of 100 updates decreases.
    envelope = d[1:].reshape(20, 100).max(axis=1)
    assert np.all(np.diff(envelope) < 0)


@pytest.mark.parametrize("opt_cls", [ExtraSGD, PastExtraSGD])
def test_extragradient_family_beats_simultaneous_gd(opt_cls: type) -> None:
    assert distances(opt_cls, 200)[-1] < 1.0 < distances(torch.optim.SGD, 200)[-1]


# --- optimistic methods, negative momentum and lookahead-minmax on the same game ----------------

A = np.array([[0.0, 1.0], [-1.0, 0.0]])  # F(w) = A w: x's gradient is y, y's is -x


def simultaneous_trajectory(opt_d, opt_g, x, y, steps: int) -> np.ndarray:
    """w_t = (x, y) after each of `steps` updates in which both players step from one point
    (y plays the discriminator's part, x the generator's, which steps last)."""
    out = [np.array([x.item(), y.item()])]
    for _ in range(steps):
        if hasattr(opt_d, "extrapolate"):
            set_game_grads(x, y)
            opt_d.extrapolate()
            opt_g.extrapolate()
        set_game_grads(x, y)
        opt_d.step()
        opt_g.step()
        out.append(np.array([x.item(), y.item()]))
    return np.array(out)


def test_optimistic_gd_iterates_are_popovs_extrapolated_points() -> None:
    """w_{t+1} = w_t - 2 eta A w_t + eta A w_{t-1} is extrapolation from the past seen from its
    extrapolated points (Daskalakis et al. 2018 / Popov 1980); it converges where GD spirals."""
    x, y = players()
    w = simultaneous_trajectory(*[OptimisticSGD([p], lr=ETA) for p in (y, x)], x, y, 2000)
    px, py = players()
    past = PastExtraSGD([px, py], lr=ETA)
    halves = []
    for _ in range(len(w)):
        past.extrapolate()  # w_{t+1/2}: the point OGD sits at after t updates
        halves.append(np.array([px.item(), py.item()]))
        set_game_grads(px, py)
        past.step()
    np.testing.assert_allclose(w, np.array(halves), rtol=1e-9, atol=1e-13)
    assert np.linalg.norm(w[-1]) < 1e-3 < 1.0 < distances(torch.optim.SGD, 2000)[-1]


def test_optimistic_adam_converges_where_adam_does_not() -> None:
    """Adam's normalised steps circle the equilibrium; the optimistic correction brings them in."""
    def final(cls: type) -> float:
        x, y = players()
        opts = [cls([p], lr=0.01, betas=(0.0, 0.999)) for p in (y, x)]
        return float(np.linalg.norm(simultaneous_trajectory(*opts, x, y, 3000)[-1]))

    assert final(OptimisticAdam) < 0.6 < 0.8 < final(torch.optim.Adam)


def alternating_distance(momentum: float, steps: int) -> np.ndarray:
    """Alternating GD with heavy-ball momentum: x updates, then y against the new x."""
    x, y = players()
    opt_x, opt_y = (SignedMomentumSGD([p], lr=ETA, momentum=momentum) for p in (x, y))
    out = [math.hypot(x.item(), y.item())]
    for _ in range(steps):
        set_game_grads(x, y)
        opt_x.step()
        set_game_grads(x, y)
        opt_y.step()
        out.append(math.hypot(x.item(), y.item()))
    return np.array(out)


def test_negative_momentum_makes_alternating_gd_converge() -> None:
    """Gidel et al. 2019: alternating GD without momentum stays on a bounded orbit, with
    positive momentum it diverges, with negative momentum it converges (and only alternating:
    the simultaneous updates with the same momentum diverge)."""
    zero = alternating_distance(0.0, 2000)
    assert zero.min() > 1.0 and zero.max() < 2.0
    assert alternating_distance(0.5, 200)[-1] > 100.0
    negative = alternating_distance(-0.5, 2000)
    assert negative[-1] < 0.1 and negative[-1] < 0.1 * zero[-1]
    x, y = players()
    opts = [SignedMomentumSGD([p], lr=ETA, momentum=-0.5) for p in (y, x)]
    assert np.linalg.norm(simultaneous_trajectory(*opts, x, y, 2000)[-1]) > 2.0


@pytest.mark.parametrize("inner", ["sgd", "extra_sgd"])
@pytest.mark.parametrize("k,alpha", [(5, 0.5), (20, 0.5), (10, 0.3)])
def test_lookahead_minmax_follows_its_closed_form(inner: str, k: int, alpha: float) -> None:
    """Every k updates both players jump to slow + alpha (fast - slow): the slow weights after
    n pulls are ((1 - alpha) I + alpha M^k)^n w_0, M the inner method's one-step matrix
    (Chavdarova et al. 2021, Section 3). Under it GD converges on this game; with extragradient
    this also checks that `extrapolate()` reaches the wrapped optimizer."""
    cls, m = {"sgd": (torch.optim.SGD, np.eye(2) - ETA * A),
              "extra_sgd": (ExtraSGD, np.eye(2) - ETA * A + ETA**2 * A @ A)}[inner]
    x, y = players()
    opt_d, opt_g = lookahead_pair(cls([y], lr=ETA), cls([x], lr=ETA), k, alpha)
    w = simultaneous_trajectory(opt_d, opt_g, x, y, 40 * k)
    cycle = (1 - alpha) * np.eye(2) + alpha * np.linalg.matrix_power(m, k)
    for n in (1, 2, 10, 40):
        expected = np.linalg.matrix_power(cycle, n) @ np.array([1.0, 1.0])
        np.testing.assert_allclose(w[n * k], expected, rtol=1e-9, atol=1e-14)
    # Between pulls the fast weights run the inner method from the slow ones.
    np.testing.assert_allclose(w[k + 1], m @ w[k], rtol=1e-12)
    if inner == "sgd":
        assert np.linalg.norm(w[-1]) < 1.0 < 1.2 * math.sqrt(2) < distances(torch.optim.SGD, 40 * k)[-1]
