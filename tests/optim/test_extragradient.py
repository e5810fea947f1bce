"""The extragradient optimizers against hand-written references of Gidel et al.'s updates, their
error cases, and exact resume from a state_dict."""

import io
import re

import numpy as np
import pytest
import torch

from optim import ExtraAdam, ExtraSGD, PastExtraAdam, PastExtraSGD

W0 = np.array([0.7, -1.3])
BETAS = (0.5, 0.999)
EPS = 1e-8
STEPS = 12


def grad_fn(w: np.ndarray) -> np.ndarray:
    """A non-linear, non-conservative vector field on two parameters (a game, not a loss)."""
    x, y = w
    return np.array([np.sin(x) + x * y + 0.5, -(x**2) + np.cos(y) * y - 0.2])


def set_grads(params: list[torch.Tensor]) -> None:
    w = np.array([p.item() for p in params])
    for p, g in zip(params, grad_fn(w), strict=True):
        p.grad = torch.tensor(g, dtype=torch.float64)


def run(opt_cls: type, steps: int, lr_factor=lambda t: 1.0, **kwargs) -> np.ndarray:
    """The torch trajectory of w_t, with an LR scheduler scaling the group's lr at update t."""
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in W0]
    opt = opt_cls(params, lr=0.05, **kwargs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    out = [W0.copy()]
    for _ in range(steps):
        if opt.extrapolation_needs_gradient:
            set_grads(params)
        opt.extrapolate()
        set_grads(params)
        opt.step()
        sched.step()
        out.append(np.array([p.item() for p in params]))
    return np.array(out)


def adam_dir(m: np.ndarray, v: np.ndarray, k: int) -> np.ndarray:
    return (m / (1 - BETAS[0] ** k)) / (np.sqrt(v / (1 - BETAS[1] ** k)) + EPS)


def moments(m: np.ndarray, v: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return BETAS[0] * m + (1 - BETAS[0]) * g, BETAS[1] * v + (1 - BETAS[1]) * g * g


def reference_extra_adam(steps: int, on_extrapolation: bool, past: bool, lr_factor) -> np.ndarray:
    """Gidel et al. Algorithm 4 written out; `past` is option 2 (reuse g_{t-1/2})."""
    w, m, v, k = W0.copy(), np.zeros(2), np.zeros(2), 0
    stored = None
    out = [w.copy()]
    for t in range(steps):
        lr = 0.05 * lr_factor(t)
        g = stored if past else grad_fn(w)
        half = w
        if g is not None:
            m1, v1 = moments(m, v, g)
            half = w - lr * adam_dir(m1, v1, k + 1)
            if on_extrapolation:
                m, v, k = m1, v1, k + 1
        g = grad_fn(half)
        stored = g
        m, v = moments(m, v, g)
        k += 1
        w = w - lr * adam_dir(m, v, k)
        out.append(w.copy())
    return np.array(out)


def reference_extra_sgd(steps: int, momentum: float, on_extrapolation: bool, past: bool,
                        lr_factor) -> np.ndarray:
    """Extragradient with torch SGD's heavy ball: buf = momentum * buf + g (buf = g at first)."""
    w, buf, stored = W0.copy(), None, None
    out = [w.copy()]

    def advance(buf, g):
        return g.copy() if buf is None or momentum == 0 else momentum * buf + g

    for t in range(steps):
        lr = 0.05 * lr_factor(t)
        g = stored if past else grad_fn(w)
        half = w
        if g is not None:
            b1 = advance(buf, g)
            half = w - lr * b1
            if on_extrapolation:
                buf = b1
        g = grad_fn(half)
        stored = g
        buf = advance(buf, g)
        w = w - lr * buf
        out.append(w.copy())
    return np.array(out)


def halving(t: int) -> float:
    return 0.5 ** (t // 4)


@pytest.mark.parametrize("on_extrapolation", [True, False])
@pytest.mark.parametrize("opt_cls", [ExtraAdam, PastExtraAdam])
def test_extra_adam_matches_reference(opt_cls: type, on_extrapolation: bool) -> None:
    got = run(opt_cls, STEPS, halving, betas=BETAS, eps=EPS,
              moments_on_extrapolation=on_extrapolation)
    want = reference_extra_adam(STEPS, on_extrapolation, opt_cls is PastExtraAdam, halving)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # The option must matter, or this test could not tell the two variants apart.
    other = reference_extra_adam(STEPS, not on_extrapolation, opt_cls is PastExtraAdam, halving)
    assert np.abs(other - want).max() > 1e-4


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("on_extrapolation", [True, False])
@pytest.mark.parametrize("opt_cls", [ExtraSGD, PastExtraSGD])
def test_extra_sgd_matches_reference(opt_cls: type, on_extrapolation: bool,
                                     momentum: float) -> None:
    got = run(opt_cls, STEPS, halving, momentum=momentum,
              moments_on_extrapolation=on_extrapolation)
    want = reference_extra_sgd(STEPS, momentum, on_extrapolation, opt_cls is PastExtraSGD,
                               halving)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_extra_sgd_is_not_plain_sgd() -> None:
    """Guards the reference itself: extragradient differs from one gradient step per update."""
    got = run(ExtraSGD, 3)
    plain = W0 - 0.05 * grad_fn(W0)
    assert np.abs(got[1] - plain).max() > 1e-4


def test_past_extrapolation_needs_no_gradient_and_first_one_stays_put() -> None:
    p = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = PastExtraAdam([p], lr=0.1)
    assert not opt.extrapolation_needs_gradient and ExtraAdam.extrapolation_needs_gradient
    opt.extrapolate()  # no .grad anywhere
    assert torch.equal(p.detach(), torch.tensor([1.0, 2.0]))
    p.grad = torch.ones(2)
    opt.step()
    after_step = p.detach().clone()
    p.grad = None
    opt.extrapolate()  # now moves along the stored gradient, with .grad cleared
    assert torch.allclose(after_step - p.detach(), torch.full((2,), 0.1))


def test_past_gradient_is_a_copy_not_the_live_grad() -> None:
    """zero_grad(set_to_none=False) zeroes .grad in place; the stored gradient must survive it."""
    p = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = PastExtraSGD([p], lr=0.1)
    opt.extrapolate()
    p.grad = torch.ones(2)
    opt.step()
    opt.zero_grad(set_to_none=False)
    before = p.detach().clone()
    opt.extrapolate()
    assert torch.allclose(before - p.detach(), torch.full((2,), 0.1))


def test_past_variant_drops_the_stored_gradient_of_a_skipped_parameter() -> None:
    """A parameter without a gradient at step() is skipped; its next extrapolation must not
    replay the gradient of an older update."""
    a = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([1.0], requires_grad=True)
    opt = PastExtraSGD([a, b], lr=0.1)
    opt.extrapolate()
    a.grad, b.grad = torch.ones(1), torch.ones(1)
    opt.step()
    opt.extrapolate()
    a.grad, b.grad = torch.ones(1), None  # b takes no part in this update
    opt.step()
    b_after = b.detach().clone()
    opt.extrapolate()
    assert torch.equal(b.detach(), b_after)
    assert not torch.equal(a.detach(), torch.tensor([1.0 - 0.1 - 0.1]))  # a did extrapolate


def test_step_before_extrapolate_raises() -> None:
    p = torch.zeros(2, requires_grad=True)
    opt = ExtraAdam([p], lr=0.1)
    p.grad = torch.ones(2)
    with pytest.raises(RuntimeError, match=re.escape("call extrapolate() first")):
        opt.step()
    opt.extrapolate()
    opt.step()
    with pytest.raises(RuntimeError, match=re.escape("call extrapolate() first")):
        opt.step()


def test_extrapolate_twice_raises() -> None:
    p = torch.zeros(2, requires_grad=True)
    opt = ExtraSGD([p], lr=0.1)
    p.grad = torch.ones(2)
    opt.extrapolate()
    with pytest.raises(RuntimeError, match=re.escape("call step() to finish the update first")):
        opt.extrapolate()


@pytest.mark.parametrize(
    ("opt_cls", "kwargs", "message"),
    [
        (ExtraSGD, {"lr": -1}, "Invalid learning rate: -1"),
        (ExtraSGD, {"lr": 0.1, "momentum": -0.5}, "Invalid momentum value: -0.5"),
        (PastExtraSGD, {"lr": float("nan")}, "Invalid learning rate: nan"),
        (ExtraAdam, {"lr": -1}, "Invalid learning rate: -1"),
        (ExtraAdam, {"lr": 0.1, "eps": -1e-3}, "Invalid epsilon value: -0.001"),
        (ExtraAdam, {"lr": 0.1, "betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
        (PastExtraAdam, {"lr": 0.1, "betas": (0.5, -0.1)},
         "Invalid beta parameter at index 1: -0.1"),
    ],
)
def test_invalid_hyperparameters_raise(opt_cls: type, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        opt_cls([torch.zeros(1, requires_grad=True)], **kwargs)


def _model_and_opt(opt_cls: type, seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    kwargs = {"momentum": 0.9} if issubclass(opt_cls, ExtraSGD) else {"betas": BETAS}
    return model, opt_cls(model.parameters(), lr=0.05, **kwargs)


def _half_steps(model: torch.nn.Module, opt, first: int, count: int) -> None:
    """Half-steps first .. first+count-1 of a regression run; even = extrapolate, odd = step."""
    for i in range(first, first + count):
        data = torch.Generator().manual_seed(i)
        x = torch.randn(8, 3, generator=data)
        target = x.sum(dim=1, keepdim=True).sin()
        if i % 2 == 1 or opt.extrapolation_needs_gradient:
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), target).backward()
        if i % 2 == 0:
            opt.extrapolate()
        else:
            opt.step()


@pytest.mark.parametrize("split", [6, 7])  # after an update, and between extrapolate and step
@pytest.mark.parametrize("opt_cls", [ExtraSGD, PastExtraSGD, ExtraAdam, PastExtraAdam])
def test_state_dict_round_trip_resumes_the_same_trajectory(opt_cls: type, split: int) -> None:
    model, opt = _model_and_opt(opt_cls, seed=0)
    _half_steps(model, opt, 0, split)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buffer)
    _half_steps(model, opt, split, 12 - split)

    resumed_model, resumed_opt = _model_and_opt(opt_cls, seed=1)  # different init on purpose
    buffer.seek(0)
    saved = torch.load(buffer)
    resumed_model.load_state_dict(saved["model"])
    resumed_opt.load_state_dict(saved["opt"])
    _half_steps(resumed_model, resumed_opt, split, 12 - split)

    for a, b in zip(model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(a, b)

    # The optimizer state matters: a fresh optimizer cannot resume the same trajectory.
    fresh_model, fresh_opt = _model_and_opt(opt_cls, seed=1)
    fresh_model.load_state_dict(saved["model"])  # in place: fresh_opt still holds its params
    if split % 2 == 1:
        with pytest.raises(RuntimeError, match="call extrapolate"):
            _half_steps(fresh_model, fresh_opt, split, 12 - split)
    else:
        _half_steps(fresh_model, fresh_opt, split, 12 - split)
        assert not torch.equal(fresh_model[0].weight, model[0].weight)
