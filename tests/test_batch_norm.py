"""Scoring copies: each network's BatchNorm statistics recomputed for the use scored."""

from __future__ import annotations

import copy

import torch
from torch import nn

from benchmark.batch_norm import StatisticsBatches, recompute_batch_norm
from benchmark.evaluation.context import reconstruct
from benchmark.models import ModelConfig, build_ali

CPU = torch.device("cpu")


def _ali():
    torch.manual_seed(0)
    return build_ali(ModelConfig(z_dim=8, width=0.125, dropout=0.0), (1, 28, 28))


def _stats(module: nn.Module) -> list[torch.Tensor]:
    return [t.clone() for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
            for t in (m.running_mean, m.running_var)]


def _shift_codes(ali, scale: float) -> None:
    """Make the encoder's codes far from the prior, as an unmatched ALI encoder's are."""
    last = [m for m in ali.encoder.modules() if isinstance(m, (nn.Conv2d, nn.Linear))][-1]
    with torch.no_grad():
        last.weight.mul_(scale)
        last.bias.add_(scale)


def test_the_reconstructing_decoder_is_normalised_by_the_encoders_codes():
    ali = _ali()
    _shift_codes(ali, 5.0)
    statistics = StatisticsBatches(torch.rand(60, 1, 28, 28), 20, 3, 8, seed=1, device=CPU)
    scored = statistics.scoring_copy(ali, step=7)
    images, prior = statistics.at(7)

    encoder = copy.deepcopy(ali.encoder)
    recompute_batch_norm(encoder, images)
    encoder.eval()
    with torch.no_grad():
        codes = [(encoder(x, eps).z,) for x, eps in images]
    from_codes, from_prior = copy.deepcopy(ali.decoder), copy.deepcopy(ali.decoder)
    recompute_batch_norm(from_codes, codes)
    recompute_batch_norm(from_prior, prior)
    for want, got in ((encoder, scored.encoder), (from_codes, scored.recon_decoder),
                      (from_prior, scored.decoder)):
        for a, b in zip(_stats(want), _stats(got), strict=True):
            torch.testing.assert_close(a, b)
    # The two decoders share weights but not statistics, and reconstructions use the codes' one.
    assert any(not torch.allclose(a, b) for a, b in zip(_stats(scored.decoder),
                                                        _stats(scored.recon_decoder), strict=True))
    scored.eval()
    x, eps = torch.rand(10, 1, 28, 28), torch.randn(10, 8)
    recon = reconstruct(scored, x, eps, batch_size=5, device=CPU).sample
    with torch.no_grad():
        torch.testing.assert_close(recon, scored.recon_decoder(scored.encoder(x, eps).z))
        assert not torch.allclose(recon, scored.decoder(scored.encoder(x, eps).z))


def test_a_live_ali_reconstructs_with_its_one_decoder():
    ali = _ali().eval()
    assert ali.code_decoder is ali.decoder and ali.recon_decoder is None
    assert not any("recon_decoder" in k for k in ali.state_dict())  # checkpoints are unchanged


def test_scoring_leaves_the_live_networks_and_the_global_rng_alone_and_repeats_exactly():
    ali = _ali()
    live = copy.deepcopy(ali.state_dict())
    statistics = StatisticsBatches(torch.rand(60, 1, 28, 28), 20, 2, 8, seed=0, device=CPU)
    rng = torch.get_rng_state()
    first, second = statistics.scoring_copy(ali, 3), statistics.scoring_copy(ali, 3)
    assert torch.equal(torch.get_rng_state(), rng)
    for k, v in ali.state_dict().items():
        assert torch.equal(v, live[k]), k
    for (k, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(),
                              strict=True):
        assert torch.equal(a, b), k  # a function of the step: resumed runs score the same
    assert ali.training and first.encoder.training  # modes are the caller's
