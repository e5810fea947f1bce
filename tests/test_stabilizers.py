"""Stabilizers: schedules, where noise goes, smoothing targets, R1 and spectral norm."""

import pytest
import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.models import ModelConfig, build_ali
from benchmark.schemes import Draw, Game
from benchmark.stabilizers import (
    InstanceNoiseOptions,
    Pairs,
    joint_gradient_penalty,
    noise_scale,
    parse_stabilizers,
)


def test_noise_schedules_at_chosen_steps():
    linear = InstanceNoiseOptions(std=0.2, schedule="linear", anneal_steps=100)
    assert [noise_scale(linear, s) for s in (0, 25, 50, 100, 500)] == [1.0, 0.75, 0.5, 0.0, 0.0]
    constant = InstanceNoiseOptions(schedule="constant", anneal_steps=10)
    assert noise_scale(constant, 1000) == 1.0
    expo = InstanceNoiseOptions(schedule="exponential", anneal_steps=100, decay_rate=5.0)
    values = [noise_scale(expo, s) for s in (0, 10, 50, 100, 200)]
    assert values[0] == pytest.approx(1.0) and values[-2] == pytest.approx(0.0, abs=1e-12)
    assert values[-1] == pytest.approx(0.0, abs=1e-12)
    assert values[0] > values[1] > values[2] > values[3]
    expected = (torch.exp(torch.tensor(-0.5)) - torch.exp(torch.tensor(-5.0))) / (
        1 - torch.exp(torch.tensor(-5.0)))
    assert values[1] == pytest.approx(float(expected), rel=1e-6)


def _game(stabilizers, z_dim=8):
    torch.manual_seed(0)
    ali = build_ali(ModelConfig(z_dim=z_dim, width=0.125, dropout=0.0), (1, 28, 28)).eval()
    data = torch.rand(6, 1, 28, 28)
    return Game(ali, parse_stabilizers(stabilizers), lambda: data, torch.device("cpu"))


def test_noise_reaches_only_the_discriminator():
    seen = []

    class Spy(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x, z):
            seen.append((x.clone(), z.clone()))
            return self.inner(x, z)

    game = _game([{"name": "instance_noise", "std": 0.5, "z_std": 0.3, "schedule": "constant"}])
    game.ali.discriminator = Spy(game.ali.discriminator)
    torch.set_grad_enabled(False)
    try:
        _check_noise_paths(game, seen)
    finally:
        torch.set_grad_enabled(True)


def _check_noise_paths(game, seen):
    draw = game.draw()
    recon_before = game.ali.decoder(game.ali.encoder(draw.x, draw.eps).z)
    game.losses(draw)
    recon_after = game.ali.decoder(game.ali.encoder(draw.x, draw.eps).z)
    torch.testing.assert_close(recon_before, recon_after)  # reconstruction path untouched
    (x_enc, z_enc), (x_dec, z_dec) = seen
    clean_z = game.ali.encoder(draw.x, draw.eps).z
    assert (x_enc - draw.x).std() == pytest.approx(0.5, rel=0.1)  # real images noised
    assert (z_enc - clean_z).std() == pytest.approx(0.3, rel=0.2)
    assert (z_dec - draw.z_prior).std() == pytest.approx(0.3, rel=0.2)
    assert (x_dec - game.ali.decoder(draw.z_prior)).std() == pytest.approx(0.5, rel=0.1)


def test_smoothing_targets():
    one_sided, = parse_stabilizers([{"name": "label_smoothing", "alpha": 0.1}])
    assert one_sided.targets(1.0, 0.0) == (0.9, 0.0)
    two_sided, = parse_stabilizers([{"name": "label_smoothing", "alpha": 0.2, "two_sided": True}])
    assert two_sided.targets(1.0, 0.0) == pytest.approx((0.8, 0.2))


def test_smoothing_changes_the_discriminator_loss_only():
    plain, smooth = _game([]), _game([{"name": "label_smoothing", "alpha": 0.1}])
    draw = Draw(torch.rand(6, 1, 28, 28), torch.randn(6, 8), torch.randn(6, 8))
    a, b = plain.losses(draw), smooth.losses(draw)
    assert a.loss_g.item() == pytest.approx(b.loss_g.item())
    assert a.loss_d.item() != pytest.approx(b.loss_d.item())


class TinyD(nn.Module):
    def __init__(self):
        super().__init__()
        self.fx, self.fz = nn.Linear(4, 3), nn.Linear(2, 3)

    def forward(self, x, z):
        return torch.tanh(self.fx(x.flatten(1)) + self.fz(z)).sum(1)


def test_r1_penalty_equals_an_autograd_reference():
    torch.manual_seed(0)
    d = TinyD()
    x, z = torch.randn(5, 1, 2, 2), torch.randn(5, 2)
    (r1,) = parse_stabilizers([{"name": "gradient_penalty", "gamma": 4.0, "kind": "r1"}])
    pairs = Pairs(x, z, torch.randn(5, 1, 2, 2), torch.randn(5, 2))
    got = r1.penalty(d, pairs, step=0)
    # Reference: per-sample gradient norms through autograd, one sample at a time.
    total = 0.0
    for i in range(5):
        xi, zi = x[i:i + 1].clone().requires_grad_(), z[i:i + 1].clone().requires_grad_()
        gx, gz = torch.autograd.grad(d(xi, zi).sum(), (xi, zi))
        total += float(gx.pow(2).sum() + gz.pow(2).sum())
    assert float(got.detach()) == pytest.approx(0.5 * 4.0 * total / 5, rel=1e-5)
    assert float(joint_gradient_penalty(d, x, z).detach()) == pytest.approx(total / 5, rel=1e-5)
    got.backward()  # differentiable: it trains the discriminator
    assert d.fx.weight.grad is not None


def test_spectral_norm_bounds_every_discriminator_layer():
    game = _game([{"name": "spectral_norm"}])
    for stabilizer in game.stabilizers:
        game.ali.discriminator = stabilizer.wrap_discriminator(game.ali.discriminator)
    d = game.ali.discriminator.train()
    for _ in range(15):  # power iterations converge over forward passes
        d(torch.rand(6, 1, 28, 28), torch.randn(6, 8))
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert float(sigma) == pytest.approx(1.0, rel=0.05), layer


def test_stabilizer_options_are_validated():
    with pytest.raises(ConfigError, match=r"stabilizers\[0\]\.schedule: unknown value 'cosine'"):
        parse_stabilizers([{"name": "instance_noise", "schedule": "cosine"}])
    with pytest.raises(ConfigError, match=r"listed twice"):
        parse_stabilizers([{"name": "label_smoothing"}, {"name": "label_smoothing"}])


ALL_STABILIZERS = [
    [{"name": "instance_noise", "std": 0.1, "z_std": 0.1, "schedule": "exponential"}],
    [{"name": "label_smoothing", "alpha": 0.2, "two_sided": True}],
    [{"name": "gradient_penalty", "kind": "both", "gamma": 1.0}],
    [{"name": "spectral_norm"}],
    [{"name": "instance_noise"}, {"name": "label_smoothing"}, {"name": "gradient_penalty"},
     {"name": "spectral_norm"}],
]


def _valid_pairs():
    from benchmark.optimizers import names_for
    from benchmark.schemes import SCHEMES

    for scheme, cls in SCHEMES.items():
        for optimizer in names_for(extragradient=cls.needs_extragradient):
            yield scheme, optimizer


@pytest.mark.parametrize("stabilizers", ALL_STABILIZERS, ids=lambda s: "+".join(x["name"] for x in s))
@pytest.mark.parametrize(("scheme", "optimizer"), list(_valid_pairs()))
def test_every_stabilizer_trains_under_every_scheme_and_optimizer(stabilizers, scheme, optimizer):
    from benchmark.optimizers import build_optimizer
    from benchmark.schemes import SCHEMES, Players

    game = _game(stabilizers)
    ali = game.ali.train()
    for stabilizer in game.stabilizers:
        ali.discriminator = stabilizer.wrap_discriminator(ali.discriminator)
    players = Players(game, build_optimizer(optimizer, ali.discriminator_parameters(), 1e-3),
                      build_optimizer(optimizer, ali.generator_parameters(), 1e-3))
    before = [p.detach().clone() for p in ali.parameters()]
    for step in (1, 2):
        game.step = step
        losses = SCHEMES[scheme]().step(players)
        assert torch.isfinite(losses.loss_d) and torch.isfinite(losses.loss_g)
    moved = [not torch.equal(a, b) for a, b in zip(before, ali.parameters(), strict=True)]
    assert sum(moved) >= len(moved) - 2  # all but, at most, the spectral norm's fixed scales


def test_cycle_consistency_adds_the_reconstruction_error_to_the_generator_loss_only():
    plain = _game([])
    cycle = _game([{"name": "cycle_consistency", "weight": 3.0}])
    draw = Draw(torch.rand(6, 1, 28, 28), torch.randn(6, 8), torch.randn(6, 8))
    a, b = plain.losses(draw), cycle.losses(draw)
    recon = cycle.ali.decoder(cycle.ali.encoder(draw.x, draw.eps).z)
    expected = a.loss_g.item() + 3.0 * (recon - draw.x).pow(2).mean().item()
    assert b.loss_g.item() == pytest.approx(expected, rel=1e-5)
    assert b.loss_d.item() == pytest.approx(a.loss_d.item())


@pytest.mark.parametrize("options", [{"weight": 1.0}, {"weight": 0.0, "z_weight": 1.0}])
def test_cycle_consistency_gradients_reach_the_encoder_and_decoder_only(options):
    """The regularizer is the generator's: d(term)/d(discriminator) is zero, and both generator
    players get a gradient from it."""
    game = _game([{"name": "cycle_consistency", **options}])
    game.ali.train()
    draw = Draw(torch.rand(6, 1, 28, 28), torch.randn(6, 8), torch.randn(6, 8))
    (stabilizer,) = game.stabilizers
    encoded = game.ali.encoder(draw.x, draw.eps)
    x_fake = game.ali.decoder(draw.z_prior)
    term = stabilizer.generator_penalty(game.ali, draw.x, encoded, draw.z_prior, x_fake, 0)
    players = {"encoder": game.ali.encoder, "decoder": game.ali.decoder,
               "discriminator": game.ali.discriminator}
    grads = {name: torch.autograd.grad(term, list(m.parameters()), allow_unused=True,
                                       retain_graph=True) for name, m in players.items()}
    assert all(g is None for g in grads["discriminator"])
    for name in ("encoder", "decoder"):
        assert any(g is not None and g.abs().sum() > 0 for g in grads[name]), name


def test_a_zero_weight_cycle_runs_nothing():
    (stabilizer,) = parse_stabilizers([{"name": "cycle_consistency", "weight": 0.0}])
    assert stabilizer.generator_penalty(None, None, None, None, None, 0) is None
