"""torch's SGD, also with negative momentum (Gidel et al. 2019, "Negative Momentum for Improved
Game Dynamics", https://arxiv.org/abs/1807.04740).

torch.optim.SGD refuses momentum < 0, but its update buf = momentum * buf + g, w -= lr * buf is
the heavy ball of the paper for either sign. The paper shows negative momentum helps the
alternating updates of a game and not simultaneous ones; which updates a caller pairs it with is
the caller's choice.
"""

from torch.optim import SGD

from optim.extragradient import Params


class SignedMomentumSGD(SGD):
    """Stochastic gradient descent with heavy-ball momentum of either sign.

    torch.optim.SGD (no dampening, no Nesterov, no weight decay) that also accepts momentum in
    (-1, 0); for momentum >= 0 it is exactly torch's SGD. The update, with g the gradient:

        buf = momentum * buf + g       (buf = g at the first step)
        w   = w - lr * buf

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        momentum: momentum factor in (-1, 1) (default: 0); negative values damp the rotation of
            alternating game dynamics.

    Reference: Gidel et al. 2019, "Negative Momentum for Improved Game Dynamics",
    https://arxiv.org/abs/1807.04740.
    """

    def __init__(self, params: Params, lr: float, momentum: float = 0.0) -> None:
        if not -1.0 < momentum < 1.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        super().__init__(params, lr=lr, momentum=abs(momentum))
        self.defaults["momentum"] = momentum
        for group in self.param_groups:
            group["momentum"] = momentum
