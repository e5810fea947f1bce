"""Optimizers for two-player games, as plain `torch.optim.Optimizer` subclasses: SGD with signed
(also negative) momentum, optimistic gradient methods, the extragradient family, the
lookahead-minmax wrapper and parameter averages.

A standalone package: it imports only torch, raises torch's own kinds of errors
(`ValueError("Invalid <name> value: ...")`, `RuntimeError` for calls out of order) and keeps
torch's defaults. Which of these a benchmark run uses, with which defaults, is the benchmark's
business (`benchmark/optimizers.py`).
"""

from optim.averaging import AVERAGE_KINDS, ParameterAverage
from optim.extragradient import (
    ExtraAdam,
    ExtragradientOptimizer,
    ExtraSGD,
    PastExtraAdam,
    PastExtraSGD,
)
from optim.lookahead import Lookahead, lookahead_pair
from optim.momentum import SignedMomentumSGD
from optim.optimistic import OptimisticAdam, OptimisticSGD

__all__ = [
    "AVERAGE_KINDS",
    "ExtraAdam",
    "ExtraSGD",
    "ExtragradientOptimizer",
    "Lookahead",
    "OptimisticAdam",
    "OptimisticSGD",
    "ParameterAverage",
    "PastExtraAdam",
    "PastExtraSGD",
    "SignedMomentumSGD",
    "lookahead_pair",
]
