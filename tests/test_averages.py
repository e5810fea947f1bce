"""Averaged networks scored in the run: BatchNorm statistics of the averaged weights, every
listed kind at once, and a trajectory that does not depend on the averaging."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from benchmark.averages import Averages
from benchmark.batch_norm import StatisticsBatches, recompute_batch_norm
from benchmark.models import ModelConfig, build_ali

CPU = torch.device("cpu")


def _ali():
    torch.manual_seed(0)
    return build_ali(ModelConfig(z_dim=8, width=0.125, dropout=0.0), (1, 28, 28))


def _statistics(train_x: torch.Tensor, batch_size: int, count: int) -> StatisticsBatches:
    return StatisticsBatches(train_x, batch_size, count, z_dim=8, seed=0, device=CPU)


def _perturb(module: nn.Module, scale: float) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))


def _bn_stats(module: nn.Module) -> list[torch.Tensor]:
    return [t.clone() for m in module.modules() if isinstance(m, nn.BatchNorm2d)
            for t in (m.running_mean, m.running_var)]


def test_recomputed_statistics_are_the_plain_average_over_the_batches():
    bn = nn.BatchNorm2d(3)
    batches = [(torch.randn(4, 3, 5, 5) * (i + 1) + i,) for i in range(3)]
    recompute_batch_norm(bn, batches)
    means = torch.stack([b[0].mean(dim=(0, 2, 3)) for b in batches]).mean(0)
    torch.testing.assert_close(bn.running_mean, means)
    assert bn.momentum == 0.1 and bn.training  # restored


def test_averaged_networks_are_scored_with_their_own_batch_norm_statistics():
    """The averaged weights are normalised with statistics gathered under them, not with the
    live network's, which were gathered under other weights."""
    ali = _ali()
    train_x = torch.rand(200, 1, 28, 28)
    averages = Averages(ali, ["uniform", "ema"], 0.9, _statistics(train_x, 20, 3))
    ali.train()
    for _ in range(4):
        _perturb(ali.encoder, 0.05)
        _perturb(ali.decoder, 0.05)
        ali.encoder(torch.rand(20, 1, 28, 28))  # live statistics move under the live weights
        averages.update()
    models = averages.models(step=4)
    assert set(models) == {"uniform", "ema"}
    live = _bn_stats(ali.encoder)
    for averaged in models.values():
        own = _bn_stats(averaged.encoder)
        assert any(not torch.allclose(a, b) for a, b in zip(own, live, strict=True))
        # Recomputing again on the same step's batches gives the same statistics: scoring is a
        # function of the step, so a resumed run scores as an uninterrupted one.
        again = copy.deepcopy(averaged.encoder)
        enc_batches, _ = averages.statistics.at(4)
        recompute_batch_norm(again, enc_batches)
        for a, b in zip(_bn_stats(again), own, strict=True):
            torch.testing.assert_close(a, b)
    # The uniform average and the EMA are different weights.
    u, e = (dict(models[k].encoder.named_parameters()) for k in ("uniform", "ema"))
    assert any(not torch.allclose(u[n], e[n]) for n in u)


def test_scoring_averages_leaves_the_global_rng_and_live_network_alone():
    ali = _ali()
    averages = Averages(ali, ["ema"], 0.9, _statistics(torch.rand(100, 1, 28, 28), 10, 2))
    averages.update()
    live = copy.deepcopy(ali.state_dict())
    state = torch.get_rng_state()
    averages.models(step=1)
    assert torch.equal(torch.get_rng_state(), state)
    for k, v in ali.state_dict().items():
        assert torch.equal(v, live[k]), k


def test_averages_resume_exactly():
    ali = _ali()
    train_x = torch.rand(100, 1, 28, 28)
    a = Averages(ali, ["uniform", "ema"], 0.9, _statistics(train_x, 10, 2))
    for _ in range(3):
        _perturb(ali.decoder, 0.1)
        a.update()
    b = Averages(ali, ["uniform", "ema"], 0.9, _statistics(train_x, 10, 2))
    b.load_state_dict(a.state_dict())
    for kind in ("uniform", "ema"):
        ma, mb = a.models(3)[kind], b.models(3)[kind]
        for (n, p), (_, q) in zip(ma.state_dict().items(), mb.state_dict().items(), strict=True):
            assert torch.equal(p, q), (kind, n)


@pytest.mark.parametrize("kinds", [["uniform", "uniform"]])
def test_a_kind_listed_twice_is_refused(kinds):
    from benchmark.errors import ConfigError
    from benchmark.run_config import RunConfig, validate_run
    from benchmark.validation import from_dict

    cfg = from_dict(RunConfig, {"optim": {"averaging": kinds}})
    with pytest.raises(ConfigError, match="optim.averaging"):
        validate_run(cfg)
