"""Optimizers for the benchmark: torch's SGD and Adam, optimistic methods, the extragradient
family, lookahead-minmax and averaging."""

from optim.averaging import AVERAGE_KINDS, ParameterAverage
from optim.extragradient import (
    ExtraAdam,
    ExtragradientOptimizer,
    ExtraSGD,
    PastExtraAdam,
    PastExtraSGD,
)
from optim.lookahead import Lookahead, check_lookahead, lookahead_pair
from optim.momentum import SignedMomentumSGD
from optim.optimistic import OptimisticAdam, OptimisticSGD
from optim.registry import (
    EXTRAGRADIENT_OPTIMIZERS,
    OPTIMIZERS,
    PLAIN_OPTIMIZERS,
    OptimizerSpec,
    build_optimizer,
    check_optimizer_options,
    is_extragradient,
    register_optimizer,
)

__all__ = [
    "AVERAGE_KINDS",
    "EXTRAGRADIENT_OPTIMIZERS",
    "OPTIMIZERS",
    "PLAIN_OPTIMIZERS",
    "ExtraAdam",
    "ExtraSGD",
    "ExtragradientOptimizer",
    "Lookahead",
    "OptimisticAdam",
    "OptimisticSGD",
    "OptimizerSpec",
    "ParameterAverage",
    "PastExtraAdam",
    "PastExtraSGD",
    "SignedMomentumSGD",
    "build_optimizer",
    "check_lookahead",
    "check_optimizer_options",
    "is_extragradient",
    "lookahead_pair",
    "register_optimizer",
]
