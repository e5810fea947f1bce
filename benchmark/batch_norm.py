"""BatchNorm statistics for scoring: each network normalised by the inputs of the use scored.

In training the decoder runs on prior draws (samples) and, under a cycle term, on the encoder's
codes (reconstructions); its running statistics are a momentum blend of both, weighted by the
order of the calls within a step. That blend is an artefact of the training loop, not part of the
model: on MNIST with ALICE's cycle term it alone took recon_mse from 0.027 to 0.067 (see
results/inference_mnist/STUDY.md). So scoring uses copies whose statistics are recomputed from
training batches (precise BN, the rule of `torch.optim.swa_utils.update_bn`): the encoder's from
training images, the sampling decoder's from prior draws, and the reconstructing decoder's from
the encoder's codes of those images. The batches come from a generator seeded by (seed, step), so
the run's trajectory and global RNG are untouched and a resumed run scores identically.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from benchmark.data import as_float
from benchmark.models import ALI

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


class StatisticsBatches:
    """The training batches (images with encoder noise, and prior draws) that recompute the
    statistics at a step: the same for every network scored at that step."""

    def __init__(self, train_x: torch.Tensor, batch_size: int, count: int, z_dim: int,
                 seed: int, device: torch.device):
        self.train_x, self.batch_size, self.count = train_x, batch_size, count
        self.z_dim, self.seed, self.device = z_dim, seed, device
        self._last: tuple[int, tuple] | None = None  # the live networks and each average share

    def at(self, step: int) -> tuple[list[tuple[torch.Tensor, torch.Tensor]],
                                     list[tuple[torch.Tensor]]]:
        """(x, eps) batches for the encoder and (z,) prior batches, from (seed, step) alone;
        drawn once per step, however many networks are scored at it."""
        if self._last is None or self._last[0] != step:
            self._last = (step, self._draw(step))
        return self._last[1]

    def _draw(self, step: int) -> tuple[list, list]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step + BN_SEED_OFFSET)
        images, prior = [], []
        for _ in range(self.count):
            idx = torch.randint(len(self.train_x), (self.batch_size,), generator=g)
            x = as_float(self.train_x[idx]).to(self.device)
            eps = torch.randn(self.batch_size, self.z_dim, generator=g).to(self.device)
            z = torch.randn(self.batch_size, self.z_dim, generator=g).to(self.device)
            images.append((x, eps))
            prior.append((z,))
        return images, prior

    def scoring_encoder(self, encoder: nn.Module, step: int) -> nn.Module:
        """`encoder` (modified) with its statistics recomputed from the training images at
        `step`: every encoder scored under recomputed statistics passes here, the models' and
        the random encoder of the baselines alike."""
        recompute_batch_norm(encoder, self.at(step)[0])
        return encoder

    def scoring_copy(self, ali: ALI, step: int, encoder: nn.Module | None = None,
                     decoder: nn.Module | None = None) -> ALI:
        """An ALI to score at `step`: copies of the encoder and decoder (or the given ones,
        which it modifies, e.g. averaged copies) with recomputed statistics, a second decoder
        for the encoder's codes, and the live discriminator. `ali` itself is left alone."""
        encoder = copy.deepcopy(ali.encoder) if encoder is None else encoder
        decoder = copy.deepcopy(ali.decoder) if decoder is None else decoder
        images, prior = self.at(step)
        self.scoring_encoder(encoder, step)
        recon_decoder = copy.deepcopy(decoder)
        training = encoder.training
        encoder.eval()
        with torch.no_grad():
            codes = [(encoder(x, eps).z,) for x, eps in images]
        encoder.train(training)
        recompute_batch_norm(recon_decoder, codes)
        recompute_batch_norm(decoder, prior)
        return ALI(encoder, decoder, ali.discriminator, ali.z_dim, recon_decoder=recon_decoder)


class ScoringProtocol:
    """How a run prepares a network for scoring, by `eval.bn_stats`: `running` scores it as it
    is (its own running statistics), `recomputed` scores copies whose statistics are recomputed
    on `statistics`. The live networks, the untrained ones at step 0 and the random encoder of
    the probe/1-NN baselines all pass through `ali` or `encoder` here (`ali` through `encoder`),
    so a baseline cannot be scored by another protocol than the models it stands beside."""

    def __init__(self, bn_stats: str, statistics: StatisticsBatches | None = None):
        if bn_stats == "recomputed" and statistics is None:
            raise ValueError("bn_stats 'recomputed' needs the statistics batches")
        self.bn_stats, self.statistics = bn_stats, statistics

    def recomputes(self) -> bool:
        return self.bn_stats == "recomputed"

    def ali(self, ali: ALI, step: int) -> ALI:
        """`ali` as scored at `step` (itself, or a copy; `ali` is left alone)."""
        return self.statistics.scoring_copy(ali, step) if self.recomputes() else ali

    def encoder(self, encoder: nn.Module, step: int) -> nn.Module:
        """`encoder` as scored at `step` (itself, or a copy): the encoder step of `ali`."""
        if not self.recomputes():
            return encoder
        return self.statistics.scoring_encoder(copy.deepcopy(encoder), step)

    def describe(self) -> dict[str, object]:
        """What decides the scores it gives, for cache keys: the statistics' batches too."""
        if not self.recomputes():
            return {"bn_stats": self.bn_stats}
        s = self.statistics
        return {"bn_stats": self.bn_stats, "batches": s.count, "batch_size": s.batch_size,
                "seed": s.seed, "seed_offset": BN_SEED_OFFSET}


RUNNING = ScoringProtocol("running")  # networks scored as they are (an evaluator on its own)
