"""Algorithm 1's losses against a hand computation, and their stability at extreme logits."""

import math

import torch

from benchmark.losses import discriminator_loss, generator_loss


def _log_sigmoid(v):
    return math.log(1 / (1 + math.exp(-v)))


def test_losses_match_a_hand_computation():
    enc, dec = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    rho_q = [1 / (1 + math.exp(-v)) for v in enc.tolist()]
    rho_p = [1 / (1 + math.exp(-v)) for v in dec.tolist()]
    expected_d = (-sum(math.log(r) for r in rho_q) / 2 - sum(math.log(1 - r) for r in rho_p) / 2)
    expected_g = (-sum(math.log(1 - r) for r in rho_q) / 2 - sum(math.log(r) for r in rho_p) / 2)
    assert abs(float(discriminator_loss(enc, dec)) - expected_d) < 1e-6
    assert abs(float(generator_loss(enc, dec)) - expected_g) < 1e-6


def test_smoothed_targets():
    enc, dec = torch.tensor([1.5]), torch.tensor([-0.5])
    t_q, t_p = 0.9, 0.1
    expected = (-(t_q * _log_sigmoid(1.5) + (1 - t_q) * _log_sigmoid(-1.5))
                - (t_p * _log_sigmoid(-0.5) + (1 - t_p) * _log_sigmoid(0.5)))
    assert abs(float(discriminator_loss(enc, dec, t_q, t_p)) - expected) < 1e-6


def test_losses_stay_finite_at_extreme_logits():
    enc, dec = torch.tensor([200.0, -200.0]), torch.tensor([-200.0, 200.0])
    for loss in (discriminator_loss(enc, dec), generator_loss(enc, dec)):
        assert torch.isfinite(loss)
        assert abs(float(loss) - 200.0) < 1e-3  # one confident mistake per kind, averaged
