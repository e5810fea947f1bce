"""Averaged encoders and decoders, scored beside the live networks in the same run.

Gidel et al. 2018 report the live iterate, its uniform average and its EMA from the same runs;
here one run keeps every average it lists (`optim.averaging: [uniform, ema]`), so averaging is not
a grid axis. An average of weights is not an average of BatchNorm statistics: running statistics
gathered under the live weights mis-normalise the averaged ones, so before scoring, each averaged
network's BatchNorm statistics are recomputed from training batches (`benchmark.batch_norm`),
drawn from a generator of their own so the run's trajectory is the same whether or not it
evaluates.
"""

from __future__ import annotations

from typing import Any

from benchmark.batch_norm import StatisticsBatches
from benchmark.models import ALI
from optim import ParameterAverage


class Averages:
    """The encoder and decoder averaged by each listed kind; `update()` after every step.
    Each average is scored with its own BatchNorm statistics, recomputed on `statistics`."""

    def __init__(self, ali: ALI, kinds: list[str], decay: float, statistics: StatisticsBatches):
        self.ali, self.kinds, self.statistics = ali, list(kinds), statistics
        self.averages = {kind: {"encoder": ParameterAverage(ali.encoder, kind, decay),
                                "decoder": ParameterAverage(ali.decoder, kind, decay)}
                         for kind in self.kinds}

    def update(self) -> None:
        for pair in self.averages.values():
            for average in pair.values():
                average.update()

    def models(self, step: int) -> dict[str, ALI]:
        """Each kind's averaged ALI (with the live discriminator), BatchNorm recomputed."""
        return {kind: self.statistics.scoring_copy(self.ali, step,
                                                   encoder=pair["encoder"].averaged_module(),
                                                   decoder=pair["decoder"].averaged_module())
                for kind, pair in self.averages.items()}

    def state_dict(self) -> dict[str, Any]:
        return {kind: {n: a.state_dict() for n, a in pair.items()}
                for kind, pair in self.averages.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for kind, pair in self.averages.items():
            for name, average in pair.items():
                average.load_state_dict(state[kind][name])
