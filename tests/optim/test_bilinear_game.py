"""The bilinear game min_x max_y x*y from (1, 1): the textbook case where simultaneous gradient
descent spirals out and the extragradient family converges (Gidel et al. 2018, Section 3).
Each trajectory is compared with the closed form the theory gives, in float64."""

import math

import numpy as np
import pytest
import torch

from optim import ExtragradientOptimizer, ExtraSGD, PastExtraSGD

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
