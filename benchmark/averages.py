"""Averaged encoders and decoders, scored beside the live networks in the same run.

Gidel et al. 2018 report the live iterate, its uniform average and its EMA from the same runs;
here one run keeps every average it lists (`optim.averaging: [uniform, ema]`), so averaging is not
a grid axis. An average of weights is not an average of BatchNorm statistics: running statistics
gathered under the live weights mis-normalise the averaged ones, so before scoring, each averaged
network's BatchNorm statistics are recomputed from training batches (what
`torch.optim.swa_utils.update_bn` does), drawn from a generator of their own so the run's
trajectory is the same whether or not it evaluates.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from benchmark.data import as_float
from benchmark.models import ALI
from optim import ParameterAverage

BN_SEED_OFFSET = 7_919  # separates the BatchNorm batches' stream from the run's other seeds


@torch.no_grad()
def recompute_batch_norm(module: nn.Module, batches: list[tuple[torch.Tensor, ...]]) -> None:
    """Reset every BatchNorm's running statistics and set them to the plain average over the
    forward passes of `batches` (momentum None), as `swa_utils.update_bn`; modes come back."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    modes = [(m, m.training) for m in module.modules()]
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    module.train()
    try:
        for args in batches:
            module(*args)
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        for m, training in modes:
            m.training = training


class Averages:
    """The encoder and decoder averaged by each listed kind; `update()` after every step.

    `train_x` feeds the encoder's BatchNorm recomputation and prior draws feed the decoder's,
    the inputs each network sees in training, `bn_batches` batches of `batch_size`.
    """

    def __init__(self, ali: ALI, kinds: list[str], decay: float, train_x: torch.Tensor,
                 batch_size: int, bn_batches: int, seed: int, device: torch.device):
        self.ali, self.kinds = ali, list(kinds)
        self.averages = {kind: {"encoder": ParameterAverage(ali.encoder, kind, decay),
                                "decoder": ParameterAverage(ali.decoder, kind, decay)}
                         for kind in self.kinds}
        self.train_x, self.batch_size, self.bn_batches = train_x, batch_size, bn_batches
        self.seed, self.device = seed, device

    def update(self) -> None:
        for pair in self.averages.values():
            for average in pair.values():
                average.update()

    def models(self, step: int) -> dict[str, ALI]:
        """Each kind's averaged ALI (with the live discriminator), BatchNorm recomputed."""
        if not self.kinds:
            return {}
        enc_batches, dec_batches = self._bn_batches(step)
        out = {}
        for kind, pair in self.averages.items():
            encoder = pair["encoder"].averaged_module()
            decoder = pair["decoder"].averaged_module()
            recompute_batch_norm(encoder, enc_batches)
            recompute_batch_norm(decoder, dec_batches)
            out[kind] = ALI(encoder, decoder, self.ali.discriminator, self.ali.z_dim)
        return out

    def _bn_batches(self, step: int) -> tuple[list, list]:
        """The same batches for every kind at a step, from a generator seeded by (seed, step)."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step + BN_SEED_OFFSET)
        z_dim, enc, dec = self.ali.z_dim, [], []
        for _ in range(self.bn_batches):
            idx = torch.randint(len(self.train_x), (self.batch_size,), generator=g)
            x = as_float(self.train_x[idx]).to(self.device)
            eps = torch.randn(self.batch_size, z_dim, generator=g).to(self.device)
            z = torch.randn(self.batch_size, z_dim, generator=g).to(self.device)
            enc.append((x, eps))
            dec.append((z,))
        return enc, dec

    def state_dict(self) -> dict[str, Any]:
        return {kind: {n: a.state_dict() for n, a in pair.items()}
                for kind, pair in self.averages.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for kind, pair in self.averages.items():
            for name, average in pair.items():
                average.load_state_dict(state[kind][name])
