"""Optimistic gradient methods: one gradient per update, corrected by the previous direction.

Daskalakis et al. 2018, "Training GANs with Optimism" (https://arxiv.org/abs/1711.00141):

    w_{t+1} = w_t - 2 lr d_t + lr d_{t-1}

where d_t is the update direction from the gradient at w_t: the gradient itself (optimistic
gradient descent, OGD) or Adam's m_hat / (sqrt(v_hat) + eps) (Optimistic Adam). The first update
has no previous direction (d_0 = 0), as in the authors' code, so it moves by 2 lr d_1.

These are plain optimizers: `step()` uses the gradient the caller put in `.grad`, with no
`extrapolate()`, so they run under the alternating and simultaneous schemes. On the bilinear
game OGD's iterates are exactly the extrapolated points of extrapolation from the past (Popov),
which tests/optim/test_bilinear_game.py checks.

d_{t-1} and Adam's moments live in `self.state`, so `state_dict()` resumes the exact trajectory.
"""

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from optim.extragradient import Params, _check_lr, check_adam_args


class OptimisticOptimizer(Optimizer):
    """Base class: the optimistic step; subclasses give the direction d_t."""

    def _direction(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """w <- w - 2 lr d_t + lr d_{t-1}, with d_t from the gradient in `.grad`."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                state = self.state[p]
                d = self._direction(p, p.grad, group)
                p.add_(d, alpha=-2.0 * group["lr"])
                previous = state.get("previous_direction")
                if previous is not None:
                    p.add_(previous, alpha=group["lr"])
                state["previous_direction"] = d.clone()
        return loss


class OptimisticSGD(OptimisticOptimizer):
    """Optimistic gradient descent (OGD): a gradient step corrected by the previous one.

        w_{t+1} = w_t - 2 lr g_t + lr g_{t-1}       (g_0 = 0)

    Args:
        params: parameters or parameter groups.
        lr: learning rate.

    Reference: Daskalakis et al. 2018, "Training GANs with Optimism", eq. 3,
    https://arxiv.org/abs/1711.00141.
    """

    def __init__(self, params: Params, lr: float) -> None:
        _check_lr(lr)
        super().__init__(params, dict(lr=lr))

    def _direction(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
        return grad


class OptimisticAdam(OptimisticOptimizer):
    """Optimistic Adam: the optimistic step with torch Adam's direction.

        m_t = beta1 m_{t-1} + (1 - beta1) g_t,   v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
        d_t = m_hat_t / (sqrt(v_hat_t) + eps)     (bias-corrected moments, as torch.optim.Adam)
        w_{t+1} = w_t - 2 lr d_t + lr d_{t-1}      (d_0 = 0)

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        betas: decay rates of the first and second moments (default: (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default: 1e-8).

    Reference: Daskalakis et al. 2018, "Training GANs with Optimism", Algorithm 1,
    https://arxiv.org/abs/1711.00141.
    """

    def __init__(self, params: Params, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        check_adam_args(lr, betas, eps)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps))

    def _direction(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
        state = self.state[p]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        beta1, beta2 = group["betas"]
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        bias_correction1 = 1.0 - beta1**step
        bias_correction2 = 1.0 - beta2**step
        denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(group["eps"])
        return exp_avg.div(bias_correction1).div_(denom)
