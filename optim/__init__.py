"""Optimizers for the benchmark: torch's SGD and Adam, the extragradient family, averaging."""

from optim.averaging import AVERAGE_KINDS, ParameterAverage
from optim.extragradient import (
    ExtraAdam,
    ExtragradientOptimizer,
    ExtraSGD,
    PastExtraAdam,
    PastExtraSGD,
)
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
    "OptimizerSpec",
    "ParameterAverage",
    "PastExtraAdam",
    "PastExtraSGD",
    "build_optimizer",
    "check_optimizer_options",
    "is_extragradient",
    "register_optimizer",
]
