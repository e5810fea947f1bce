"""torch's SGD, also with negative momentum (Gidel et al. 2019, "Negative Momentum for Improved
Game Dynamics", https://arxiv.org/abs/1807.04740).

torch.optim.SGD refuses momentum < 0, but its update buf = momentum * buf + g, w -= lr * buf is
the heavy ball of the paper for either sign. The paper shows negative momentum helps the
alternating updates of a game and not simultaneous ones, so the registry allows it for the
alternating scheme only (`OptimizerSpec.negative_momentum_schemes`).
"""

from torch.optim import SGD

from optim.extragradient import Params


class SignedMomentumSGD(SGD):
    """torch.optim.SGD with heavy-ball momentum in (-1, 1); identical to it for momentum >= 0.

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        momentum: buf = momentum * buf + g (default: 0); negative values are allowed.
    """

    def __init__(self, params: Params, lr: float, momentum: float = 0.0) -> None:
        if not -1.0 < momentum < 1.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        super().__init__(params, lr=lr, momentum=abs(momentum))
        self.defaults["momentum"] = momentum
        for group in self.param_groups:
            group["momentum"] = momentum
