"""Optimistic Adam against a reference built on torch's Adam, negative-momentum SGD against
torch's SGD, lookahead-minmax's bookkeeping, and exact resume from a state_dict for each."""

import copy
import io

import numpy as np
import pytest
import torch

from optim import (
    ExtraAdam,
    Lookahead,
    OptimisticAdam,
    OptimisticSGD,
    PastExtraAdam,
    SignedMomentumSGD,
    lookahead_pair,
)

BETAS = (0.5, 0.999)
LR = 0.05


def field(w: torch.Tensor) -> torch.Tensor:
    """A non-conservative vector field (a game's joint gradient, not a loss's)."""
    x, y = w[0], w[1]
    return torch.stack([torch.sin(x) + x * y + 0.5, -(x**2) + torch.cos(y) * y - 0.2])


def adam_directions(gradients: list[torch.Tensor]) -> list[torch.Tensor]:
    """torch Adam's direction d_t for a given gradient sequence: its move at lr 1, negated."""
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    adam = torch.optim.Adam([w], lr=1.0, betas=BETAS)
    out = []
    for g in gradients:
        before = w.detach().clone()
        w.grad = g.clone()
        adam.step()
        out.append(before - w.detach())
    return out


def test_optimistic_adam_moves_by_minus_2_lr_d_t_plus_lr_d_t_minus_1() -> None:
    w = torch.tensor([0.7, -1.3], dtype=torch.float64, requires_grad=True)
    opt = OptimisticAdam([w], lr=LR, betas=BETAS)
    points, gradients = [w.detach().clone()], []
    for _ in range(15):
        w.grad = field(w.detach())
        gradients.append(w.grad.clone())
        opt.step()
        points.append(w.detach().clone())
    d = adam_directions(gradients)
    expected = points[0] - 2 * LR * d[0]  # no previous direction at the first update
    torch.testing.assert_close(points[1], expected, rtol=1e-12, atol=1e-14)
    for t in range(1, 15):
        expected = points[t] - 2 * LR * d[t] + LR * d[t - 1]
        torch.testing.assert_close(points[t + 1], expected, rtol=1e-12, atol=1e-14)


def test_signed_momentum_sgd_is_torch_sgd_for_nonnegative_momentum_and_heavy_ball_below() -> None:
    def trajectory(opt_cls: type, momentum: float) -> torch.Tensor:
        w = torch.tensor([0.7, -1.3], dtype=torch.float64, requires_grad=True)
        opt = opt_cls([w], lr=LR, momentum=momentum)
        out = []
        for _ in range(10):
            w.grad = field(w.detach())
            opt.step()
            out.append(w.detach().clone())
        return torch.stack(out)

    for momentum in (0.0, 0.9):
        assert torch.equal(trajectory(SignedMomentumSGD, momentum),
                           trajectory(torch.optim.SGD, momentum))
    w, buf = torch.tensor([0.7, -1.3], dtype=torch.float64), None
    for step in trajectory(SignedMomentumSGD, -0.5):
        g = field(w)
        buf = g if buf is None else -0.5 * buf + g
        w = w - LR * buf
        torch.testing.assert_close(step, w, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="Invalid momentum value: -1.0"):
        SignedMomentumSGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=-1.0)


def params() -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.tensor([0.7], dtype=torch.float64, requires_grad=True),
            torch.tensor([-1.3], dtype=torch.float64, requires_grad=True))


def game_step(opt_d, opt_g, x: torch.Tensor, y: torch.Tensor) -> None:
    """One simultaneous update of the field's game: y as the discriminator, x as generator."""
    def grads() -> None:
        g = field(torch.cat([x.detach(), y.detach()]))
        x.grad, y.grad = g[:1], g[1:]

    if hasattr(opt_d, "extrapolate"):
        if opt_d.extrapolation_needs_gradient:
            grads()
        opt_d.extrapolate()
        opt_g.extrapolate()
    grads()
    opt_d.step()
    opt_g.step()


def make(name: str, x: torch.Tensor, y: torch.Tensor):
    builders = {
        "optimistic_adam": lambda p: OptimisticAdam([p], lr=LR, betas=BETAS),
        "optimistic_sgd": lambda p: OptimisticSGD([p], lr=LR),
        "lookahead_adam": lambda p: torch.optim.Adam([p], lr=LR, betas=BETAS),
        "lookahead_extra_adam": lambda p: ExtraAdam([p], lr=LR, betas=BETAS),
        "lookahead_past_extra_adam": lambda p: PastExtraAdam([p], lr=LR, betas=BETAS),
        "lookahead_sgd_negative": lambda p: SignedMomentumSGD([p], lr=LR, momentum=-0.5),
    }
    opt_d, opt_g = builders[name](y), builders[name](x)
    if name.startswith("lookahead"):
        opt_d, opt_g = lookahead_pair(opt_d, opt_g, 3, 0.5)
    return opt_d, opt_g


@pytest.mark.parametrize("name", ["optimistic_adam", "optimistic_sgd", "lookahead_adam",
                                  "lookahead_extra_adam", "lookahead_past_extra_adam",
                                  "lookahead_sgd_negative"])
@pytest.mark.parametrize("split", [1, 4, 5])
def test_state_dict_round_trip_resumes_the_same_trajectory(name: str, split: int) -> None:
    """Saved after `split` updates (between lookahead pulls or right after one) and loaded into
    fresh optimizers through torch.save, the run continues bit for bit."""
    x, y = params()
    opt_d, opt_g = make(name, x, y)
    for _ in range(split):
        game_step(opt_d, opt_g, x, y)
    buffer = io.BytesIO()
    torch.save({"d": opt_d.state_dict(), "g": opt_g.state_dict(), "x": x.detach().clone(),
                "y": y.detach().clone()}, buffer)
    for _ in range(9):
        game_step(opt_d, opt_g, x, y)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    x2, y2 = (saved[k].clone().requires_grad_() for k in ("x", "y"))
    opt_d2, opt_g2 = make(name, x2, y2)
    opt_d2.load_state_dict(saved["d"])
    opt_g2.load_state_dict(saved["g"])
    for _ in range(9):
        game_step(opt_d2, opt_g2, x2, y2)
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_lookahead_pulls_both_players_every_k_generator_steps_only() -> None:
    x, y = params()
    opt_d, opt_g = lookahead_pair(torch.optim.SGD([y], lr=LR), torch.optim.SGD([x], lr=LR), 3, 0.5)
    start = (x.detach().clone(), y.detach().clone())
    for _ in range(5):  # five discriminator steps count nothing: the generator leads
        y.grad = torch.ones(1, dtype=torch.float64)
        opt_d.step()
    assert opt_d.steps == opt_g.steps == 0
    torch.testing.assert_close(y.detach(), start[1] - 5 * LR)
    for _ in range(3):
        x.grad = torch.ones(1, dtype=torch.float64)
        opt_g.step()
    # The third generator step pulled both: halfway between the start and the fast weights.
    torch.testing.assert_close(x.detach(), start[0] - 0.5 * 3 * LR)
    torch.testing.assert_close(y.detach(), start[1] - 0.5 * 5 * LR)
    torch.testing.assert_close(opt_g.slow[0], x.detach())
    assert opt_g.steps == 3


def test_lookahead_delegates_and_refuses_bad_settings() -> None:
    x, y = params()
    plain_d, plain_g = torch.optim.Adam([y]), torch.optim.Adam([x])
    assert lookahead_pair(plain_d, plain_g, 0, 0.5) == (plain_d, plain_g)
    opt_d, opt_g = lookahead_pair(ExtraAdam([y], lr=LR), PastExtraAdam([x], lr=LR), 2, 0.5)
    assert isinstance(opt_g, Lookahead) and hasattr(opt_g, "extrapolate")
    assert opt_g.extrapolation_needs_gradient is False and opt_d.extrapolation_needs_gradient
    assert not hasattr(lookahead_pair(plain_d, plain_g, 2, 0.5)[0], "extrapolate")
    assert copy.deepcopy(opt_g).k == 2
    for k, alpha, message in [(-1, 0.5, r"^Invalid k value: -1 \(an integer >= 0"),
                              (2, 0.0, r"^Invalid alpha value: 0.0 \(must be in \(0, 1\]\)"),
                              (2, 1.5, r"^Invalid alpha value: 1.5")]:
        with pytest.raises(ValueError, match=message):
            lookahead_pair(plain_d, plain_g, k, alpha)
    other = lookahead_pair(torch.optim.Adam([y]), torch.optim.Adam([x]), 4, 0.5)[1]
    with pytest.raises(ValueError, match="^Saved lookahead state has k 2 but this one has 4"):
        other.load_state_dict(opt_g.state_dict())


def test_optimistic_adam_refuses_bad_hyperparameters() -> None:
    p = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(ValueError, match="Invalid learning rate"):
        OptimisticAdam(p, lr=-1.0)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        OptimisticAdam(p, lr=0.1, betas=(0.5, 1.0))
    np.testing.assert_equal(OptimisticSGD(p, lr=0.1).defaults["lr"], 0.1)
