"""The extragradient family as torch optimizers: extrapolate to a look-ahead point, then update.

Gidel et al. 2018, "A Variational Inequality Perspective on Generative Adversarial Networks"
(https://arxiv.org/abs/1802.10551), Algorithms 2-4. One update is two calls:

    extrapolate()   saves w_t and moves to  w_{t+1/2} = w_t - lr * d(g_t)
    step()          restores w_t and sets   w_{t+1}   = w_t - lr * d(g_{t+1/2})

where d is the SGD or Adam direction and g_{t+1/2} is the gradient the caller took at w_{t+1/2}.
`extra_*` take g_t at w_t before `extrapolate()`; the `past_extra_*` variants (extrapolation from
the past, Popov 1980) reuse the gradient stored by the previous `step()`, so an update costs one
gradient evaluation. `extrapolation_needs_gradient` tells a training loop which case it has.

Whether the optimizer's moments (Adam's m and v, SGD's momentum buffer) advance on the
extrapolation is the option `moments_on_extrapolation`, because published code disagrees:
- True (Gidel et al.'s code and Algorithm 4): the extrapolation advances the moments and the step
  count, so they advance twice per update.
- False: the extrapolation computes its direction from moments advanced tentatively and then
  discarded, i.e. `step()` rolls the moments back to time t together with the parameters.

Every buffer (saved w_t, moments, stored gradient) lives in `self.state`, so `state_dict()` taken
at any point, even between `extrapolate()` and `step()`, resumes the exact trajectory.
"""

import math
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.optim import Optimizer

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


def _check_lr(lr: float) -> None:
    if not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_adam_args(lr: float, betas: tuple[float, float], eps: float) -> None:
    """torch.optim.Adam's argument checks, with its messages, for the Adam variants here."""
    _check_lr(lr)
    if not eps >= 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


class ExtragradientOptimizer(Optimizer):
    """Base class: the extrapolate/step bookkeeping; subclasses give the update direction."""

    # True: the caller computes a gradient at w_t before `extrapolate()`. False: `extrapolate()`
    # reuses the gradient stored by the previous `step()`.
    extrapolation_needs_gradient: ClassVar[bool] = True

    def _direction(self, p: Tensor, grad: Tensor, group: dict[str, Any], commit: bool) -> Tensor:
        """The direction d with w_new = w - lr * d; `commit` says whether the moments advance."""
        raise NotImplementedError

    @torch.no_grad()
    def extrapolate(self) -> None:
        """Save w_t and move every parameter to the extrapolated point w_{t+1/2}."""
        params = [(p, group) for group in self.param_groups for p in group["params"]]
        if any("saved_param" in self.state[p] for p, _ in params):
            raise RuntimeError(
                f"{type(self).__name__}.extrapolate() was called twice in a row; "
                "call step() to finish the update first"
            )
        for p, group in params:
            state = self.state[p]
            state["saved_param"] = p.detach().clone()
            # The past variants have no stored gradient on the very first update: no move.
            grad = p.grad if self.extrapolation_needs_gradient else state.get("past_grad")
            if grad is None:
                continue
            if grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            d = self._direction(p, grad, group, commit=group["moments_on_extrapolation"])
            p.add_(d, alpha=-group["lr"])

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Restore w_t and update it with the gradient in `.grad`, taken at w_{t+1/2}.

        Args:
            closure: re-evaluates the model at the extrapolated point and returns the loss
                (default: None, the caller has already filled `.grad`).
        """
        params = [(p, group) for group in self.param_groups for p in group["params"]]
        if not all("saved_param" in self.state[p] for p, _ in params):
            raise RuntimeError(
                f"{type(self).__name__}.step() needs an extrapolated point: "
                "call extrapolate() first"
            )
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for p, group in params:
            state = self.state[p]
            saved = state.pop("saved_param")
            if p.grad is None:
                # Skipped like torch's optimizers; a stale stored gradient must not move it later.
                p.copy_(saved)
                state.pop("past_grad", None)
                continue
            if p.grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            d = self._direction(p, p.grad, group, commit=True)
            p.copy_(saved).add_(d, alpha=-group["lr"])
            if not self.extrapolation_needs_gradient:
                state["past_grad"] = p.grad.detach().clone()
        return loss


class ExtraSGD(ExtragradientOptimizer):
    """Extragradient with the SGD direction, optionally with heavy-ball momentum.

        extrapolate():  w_{t+1/2} = w_t - lr d(g_t)
        step():         w_{t+1}   = w_t - lr d(g_{t+1/2})

    with d(g) = g, or with momentum buf = momentum * buf + g and d = buf (torch SGD's convention).

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        momentum: momentum factor, torch SGD's convention buf = momentum * buf + g (default: 0).
        moments_on_extrapolation: whether the momentum buffer advances on the extrapolation
            (default: True; no effect without momentum).

    Reference: Korpelevich 1976; Gidel et al. 2018, "A Variational Inequality Perspective on
    Generative Adversarial Networks", Algorithm 2, https://arxiv.org/abs/1802.10551.
    """

    def __init__(
        self,
        params: Params,
        lr: float,
        momentum: float = 0.0,
        moments_on_extrapolation: bool = True,
    ) -> None:
        _check_lr(lr)
        if not momentum >= 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        defaults = dict(lr=lr, momentum=momentum, moments_on_extrapolation=moments_on_extrapolation)
        super().__init__(params, defaults)

    def _direction(self, p: Tensor, grad: Tensor, group: dict[str, Any], commit: bool) -> Tensor:
        momentum = group["momentum"]
        if momentum == 0.0:
            return grad
        buf = self.state[p].get("momentum_buffer")
        new_buf = grad.clone() if buf is None else buf.mul(momentum).add_(grad)
        if commit:
            self.state[p]["momentum_buffer"] = new_buf
        return new_buf


class PastExtraSGD(ExtraSGD):
    """Extrapolation from the past with the SGD direction: one gradient per update.

        extrapolate():  w_{t+1/2} = w_t - lr d(g_{t-1/2})    (the gradient stored by step())
        step():         w_{t+1}   = w_t - lr d(g_{t+1/2})

    Args: as `ExtraSGD`.

    Reference: Popov 1980; Gidel et al. 2018, Algorithm 3, https://arxiv.org/abs/1802.10551.
    """

    extrapolation_needs_gradient: ClassVar[bool] = False


class ExtraAdam(ExtragradientOptimizer):
    """Extragradient with the Adam direction.

        extrapolate():  w_{t+1/2} = w_t - lr d(g_t)
        step():         w_{t+1}   = w_t - lr d(g_{t+1/2})

    with d torch Adam's direction m_hat / (sqrt(v_hat) + eps) from bias-corrected moments.

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        betas: decay rates of the first and second moment estimates (default: (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default: 1e-8).
        moments_on_extrapolation: whether m, v and the step count advance on the extrapolation
            too (default: True, as in Gidel et al.'s code).

    Reference: Gidel et al. 2018, "A Variational Inequality Perspective on Generative
    Adversarial Networks", Algorithm 4, https://arxiv.org/abs/1802.10551.
    """

    def __init__(
        self,
        params: Params,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        moments_on_extrapolation: bool = True,
    ) -> None:
        check_adam_args(lr, betas, eps)
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, moments_on_extrapolation=moments_on_extrapolation
        )
        super().__init__(params, defaults)

    def _direction(self, p: Tensor, grad: Tensor, group: dict[str, Any], commit: bool) -> Tensor:
        state = self.state[p]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        beta1, beta2 = group["betas"]
        step = state["step"] + 1
        exp_avg = state["exp_avg"].mul(beta1).add_(grad, alpha=1.0 - beta1)
        exp_avg_sq = state["exp_avg_sq"].mul(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        if commit:
            state["step"], state["exp_avg"], state["exp_avg_sq"] = step, exp_avg, exp_avg_sq
        bias_correction1 = 1.0 - beta1**step
        bias_correction2 = 1.0 - beta2**step
        denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(group["eps"])
        return exp_avg.div(bias_correction1).div_(denom)


class PastExtraAdam(ExtraAdam):
    """Extrapolation from the past with the Adam direction: one gradient per update.

    With moments_on_extrapolation=True this is Gidel et al.'s Algorithm 4, option 2: the stored
    gradient enters the moments once at the step that computed it and again at the extrapolation.

    Args: as `ExtraAdam`.

    Reference: Gidel et al. 2018, Algorithm 4 with extrapolation from the past (Popov 1980),
    https://arxiv.org/abs/1802.10551.
    """

    extrapolation_needs_gradient: ClassVar[bool] = False
