"""Update schemes: how often each one draws data, that every player learns at every update, that
gradients are taken where the algorithms say (against manual autograd), which scheme x optimizer
pairs are refused, and every valid pair end to end through the CLI into MLflow."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from itertools import product
from pathlib import Path

import pytest
import torch
import yaml

from benchmark.data import BatchSampler, DataConfig, Samples, load_dataset
from benchmark.errors import ConfigError
from benchmark.grid import expand_grid
from benchmark.losses import discriminator_loss, generator_loss
from benchmark.models import ALI, ModelConfig, build_ali
from benchmark.optimizers import OPTIMIZERS, build_optimizer
from benchmark.schemes import SCHEMES, Draw, Game, Players, UpdateScheme, check_scheme_optimizer

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
SHAPE = (1, 28, 28)
BATCH = 8
UPDATES = 3
# Every pair the benchmark accepts. Written out, so a registry change that silently drops or
# adds a pair fails `test_valid_pairs_are_exactly_the_listed_ones`.
VALID_PAIRS = [
    ("alternating", "sgd"), ("alternating", "adam"),
    ("simultaneous", "sgd"), ("simultaneous", "adam"),
    ("alternating", "optimistic_sgd"), ("alternating", "optimistic_adam"),
    ("simultaneous", "optimistic_sgd"), ("simultaneous", "optimistic_adam"),
    ("extragradient", "extra_sgd"), ("extragradient", "past_extra_sgd"),
    ("extragradient", "extra_adam"), ("extragradient", "past_extra_adam"),
]
PLAYERS = ("encoder", "decoder", "discriminator")


@pytest.fixture(scope="module")
def digits() -> Samples:
    """Real handwritten digits (scikit-learn's, no download) at 28x28."""
    cfg = DataConfig(dataset="digits", image_size=28, train_subset=64, test_subset=8)
    return load_dataset(cfg, seed=0).train


@pytest.fixture
def deterministic():
    """Deterministic kernels, so the scheme and the manual computation agree to float noise."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


class CountingBatches:
    """Real minibatches from a sampler, counting how often the scheme asks for one."""

    def __init__(self, samples: Samples, seed: int = 0):
        self.sampler = BatchSampler(samples, BATCH, seed)
        self.calls = 0

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        return self.sampler.next()[0]


def make_players(samples: Samples, optimizer: str, lr_d: float = 1e-3, lr_g: float = 1e-3,
                 dropout: float = 0.2, seed: int = 0) -> tuple[Players, CountingBatches]:
    torch.manual_seed(seed)
    ali = build_ali(ModelConfig(z_dim=8, width=0.125, dropout=dropout), SHAPE)
    batches = CountingBatches(samples, seed)
    game = Game(ali, [], batches, CPU)
    players = Players(game, build_optimizer(optimizer, ali.discriminator_parameters(), lr_d),
                      build_optimizer(optimizer, ali.generator_parameters(), lr_g))
    return players, batches


def record_draws(game: Game) -> list[Draw]:
    """Keep every Draw the scheme takes, so a manual computation can replay it."""
    draws: list[Draw] = []
    original = game.draw

    def draw() -> Draw:
        draws.append(original())
        return draws[-1]

    game.draw = draw
    return draws


def player_vectors(ali: ALI) -> dict[str, torch.Tensor]:
    # reshape, not parameters_to_vector: its view() refuses the channels-last conv weights
    return {name: torch.cat([p.detach().reshape(-1) for p in getattr(ali, name).parameters()])
            for name in PLAYERS}


def gradient_is_live(module: torch.nn.Module) -> bool:
    """Every parameter tensor of `module` got a gradient with some non-zero entry."""
    return all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters())


def own_gradients(ali: ALI, draw: Draw) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Manual Algorithm 1 at `draw`: d L_d / d theta_D and d L_g / d theta_G where they are."""
    encoded = ali.encoder(draw.x, draw.eps)
    x_fake = ali.decoder(draw.z_prior)
    logits_enc = ali.discriminator(draw.x, encoded.z)
    logits_dec = ali.discriminator(x_fake, draw.z_prior)
    loss_d = discriminator_loss(logits_enc, logits_dec)
    loss_g = generator_loss(logits_enc, logits_dec)
    grad_d = torch.autograd.grad(loss_d, ali.discriminator_parameters(), retain_graph=True)
    grad_g = torch.autograd.grad(loss_g, ali.generator_parameters())
    return list(grad_d), list(grad_g)


@torch.no_grad()
def sgd_move(params: list[torch.Tensor], grads: list[torch.Tensor], lr: float) -> None:
    for p, g in zip(params, grads, strict=True):
        p.sub_(lr * g)


def max_gap(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


def params_of(ali: ALI) -> list[torch.Tensor]:
    return [p.detach().clone() for p in ali.discriminator_parameters() + ali.generator_parameters()]


# --- draws per update ----------------------------------------------------------------------------

@pytest.mark.parametrize(("scheme", "optimizer", "options", "per_update"), [
    ("extragradient", "extra_sgd", {"resample": True}, 2),
    ("extragradient", "extra_sgd", {"resample": False}, 1),
    ("extragradient", "extra_adam", {"resample": True}, 2),
    ("extragradient", "extra_adam", {"resample": False}, 1),
    ("extragradient", "past_extra_sgd", {"resample": True}, 1),
    ("extragradient", "past_extra_adam", {"resample": False}, 1),
    ("simultaneous", "adam", {}, 1),
    ("alternating", "adam", {"d_steps": 1}, 1),
    ("alternating", "sgd", {"d_steps": 3}, 3),
])
def test_data_is_drawn_as_often_as_the_scheme_says(digits, scheme, optimizer, options, per_update):
    players, batches = make_players(digits, optimizer)
    update = SCHEMES[scheme](**options)
    for i in range(1, UPDATES + 1):
        update.step(players)
        assert batches.calls == per_update * i, f"{scheme} {optimizer} {options} update {i}"


def test_resampling_draws_fresh_data_prior_and_encoder_noise(digits):
    players, _ = make_players(digits, "extra_sgd")
    draws = record_draws(players.game)
    SCHEMES["extragradient"](resample=True).step(players)
    first, second = draws
    for field in ("x", "z_prior", "eps"):
        assert not torch.equal(getattr(first, field), getattr(second, field)), field


# --- every player learns at every update -------------------------------------------------------

@pytest.mark.parametrize(("scheme", "optimizer"), VALID_PAIRS)
def test_every_player_moves_at_every_update(digits, scheme, optimizer):
    """The published trap: requires_grad toggled after the graph is built freezes D after step 1."""
    players, _ = make_players(digits, optimizer, lr_d=1e-2, lr_g=1e-2)
    update = SCHEMES[scheme]()
    ali = players.game.ali
    for i in range(1, UPDATES + 1):
        before = player_vectors(ali)
        update.step(players)
        after = player_vectors(ali)
        frozen = [name for name in PLAYERS if torch.equal(before[name], after[name])]
        assert not frozen, f"{scheme} + {optimizer}: {frozen} did not move at update {i}"
        # Adam's momentum moves a player whose gradient went dead, so check the gradient too.
        dead = [name for name in PLAYERS if not gradient_is_live(getattr(ali, name))]
        assert not dead, f"{scheme} + {optimizer}: {dead} got no gradient at update {i}"


# --- where the gradients are taken -------------------------------------------------------------

def test_extragradient_updates_from_the_saved_point_with_the_extrapolated_gradient(
        digits, deterministic):
    """theta_{t+1} = theta_t - lr * g(theta_t - lr * g(theta_t)), each player its own loss, with
    the gradient at the extrapolated point from a fresh forward pass (extra_sgd, resample off)."""
    lr_d, lr_g = 0.03, 0.05
    players, _ = make_players(digits, "extra_sgd", lr_d, lr_g, dropout=0.0)
    ali = players.game.ali
    manual = copy.deepcopy(ali)
    draws = record_draws(players.game)
    SCHEMES["extragradient"](resample=False).step(players)
    (draw,) = draws

    start = params_of(manual)
    grad_d, grad_g = own_gradients(manual, draw)
    plain = [p - lr * g for p, g, lr in zip(
        start, grad_d + grad_g, [lr_d] * len(grad_d) + [lr_g] * len(grad_g), strict=True)]
    sgd_move(manual.discriminator_parameters(), grad_d, lr_d)  # the extrapolation
    sgd_move(manual.generator_parameters(), grad_g, lr_g)
    half_d, half_g = own_gradients(manual, draw)  # fresh forward pass at theta_{t+1/2}
    with torch.no_grad():
        for p, saved in zip(manual.discriminator_parameters() + manual.generator_parameters(),
                            start, strict=True):
            p.copy_(saved)
    sgd_move(manual.discriminator_parameters(), half_d, lr_d)
    sgd_move(manual.generator_parameters(), half_g, lr_g)

    expected, got = params_of(manual), params_of(ali)
    assert max_gap(got, expected) < 1e-5
    # The test can fail: a plain gradient step from theta_t lands measurably elsewhere.
    assert max_gap(got, plain) > 1e-4


def test_simultaneous_takes_both_gradients_at_the_same_point(digits, deterministic):
    lr = 0.05
    players, _ = make_players(digits, "sgd", lr, lr, dropout=0.0)
    ali = players.game.ali
    manual = copy.deepcopy(ali)
    draws = record_draws(players.game)
    SCHEMES["simultaneous"]().step(players)
    (draw,) = draws

    grad_d, grad_g = own_gradients(manual, draw)  # before anything moves
    got_d = [p.grad for p in ali.discriminator_parameters()]
    got_g = [p.grad for p in ali.generator_parameters()]
    assert max_gap(got_d, grad_d) < 1e-6
    assert max_gap(got_g, grad_g) < 1e-6
    # The generator gradient after the discriminator's step (what alternating does) differs.
    sgd_move(manual.discriminator_parameters(), grad_d, lr)
    _, grad_g_after_d = own_gradients(manual, draw)
    assert max_gap(got_g, grad_g_after_d) > 1e-5


def test_alternating_generator_plays_against_the_updated_discriminator(digits, deterministic):
    lr = 0.05
    players, _ = make_players(digits, "sgd", lr, lr, dropout=0.0)
    ali = players.game.ali
    manual = copy.deepcopy(ali)
    draws = record_draws(players.game)
    SCHEMES["alternating"](d_steps=1).step(players)
    (draw,) = draws

    grad_d, grad_g_before = own_gradients(manual, draw)
    sgd_move(manual.discriminator_parameters(), grad_d, lr)
    _, grad_g = own_gradients(manual, draw)
    got_g = [p.grad for p in ali.generator_parameters()]
    assert max_gap(got_g, grad_g) < 1e-6
    assert max_gap(got_g, grad_g_before) > 1e-5


# --- scheme x optimizer validation ---------------------------------------------------------------

def test_valid_pairs_are_exactly_the_listed_ones():
    accepted = []
    for scheme, optimizer in product(SCHEMES, OPTIMIZERS):
        try:
            check_scheme_optimizer(scheme, optimizer)
        except ConfigError:
            continue
        accepted.append((scheme, optimizer))
    assert sorted(accepted) == sorted(VALID_PAIRS)


@pytest.mark.parametrize(("scheme", "optimizer", "fits"), [
    ("extragradient", "adam", "extra_adam, extra_sgd, past_extra_adam, past_extra_sgd"),
    ("extragradient", "sgd", "extra_adam, extra_sgd, past_extra_adam, past_extra_sgd"),
    ("alternating", "extra_adam", "adam, optimistic_adam, optimistic_sgd, sgd"),
    ("simultaneous", "past_extra_sgd", "adam, optimistic_adam, optimistic_sgd, sgd"),
])
def test_an_unsupported_pair_is_one_line_listing_what_fits(scheme, optimizer, fits):
    message = (f"optim.name: '{optimizer}' does not fit scheme.name '{scheme}'; "
               f"choose from: {fits}")
    with pytest.raises(ConfigError) as raised:
        check_scheme_optimizer(scheme, optimizer)
    assert str(raised.value) == message
    raw = {"name": "t", "base": {"data": {"dataset": "digits"}, "optim": {"name": optimizer},
                                 "scheme": {"name": scheme}}}
    with pytest.raises(ConfigError) as raised:
        expand_grid(raw)
    assert str(raised.value) == message
    assert "\n" not in message


def test_schemes_are_update_schemes():
    assert all(issubclass(cls, UpdateScheme) and cls.name == name for name, cls in SCHEMES.items())


# --- end to end --------------------------------------------------------------------------------

@pytest.mark.slow
def test_every_valid_pair_trains_through_the_cli_and_logs_its_metrics(tmp_path):
    import mlflow

    grid = {
        "name": "schemes-e2e",
        "base": {
            "data": {"dataset": "digits", "image_size": 28, "train_subset": 200,
                     "test_subset": 40, "batch_size": 20},
            "model": {"z_dim": 8, "width": 0.125},
            "train": {"steps": 6, "log_every": 2, "eval_every": 3, "checkpoint_every": 6},
            "eval": {"metrics": ["recon_mse"], "recon_count": 40},
        },
        "runs": [{"scheme.name": s, "optim.name": o} for s, o in VALID_PAIRS],
        "axes": {"seed": [0]},
    }
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    out = subprocess.run(
        [sys.executable, "-m", "benchmark.run", "--grid", "grid.yaml", "--tracking-uri", uri,
         "--checkpoint-dir", str(tmp_path / "checkpoints")],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("schemes-e2e")
    runs = client.search_runs([experiment.experiment_id], "tags.`alibench.kind` = 'run'")
    pairs = sorted((r.data.params["scheme.name"], r.data.params["optim.name"]) for r in runs)
    assert pairs == sorted(VALID_PAIRS)
    for run in runs:
        where = f"{run.data.params['scheme.name']} + {run.data.params['optim.name']}"
        assert run.info.status == "FINISHED", where
        for key in ("loss_d", "loss_g", "recon_mse"):
            history = client.get_metric_history(run.info.run_id, key)
            assert history, f"{where}: no {key}"
            assert all(torch.isfinite(torch.tensor(m.value)) for m in history), f"{where}: {key}"
        assert max(m.step for m in client.get_metric_history(run.info.run_id, "loss_d")) == 6


def _running_stats(ali: ALI) -> list[torch.Tensor]:
    return [b.clone() for b in ali.buffers()]


@pytest.mark.parametrize("resample", [True, False])
def test_extragradient_moves_batch_norm_statistics_once_at_the_saved_point(digits, resample,
                                                                          deterministic):
    """The update restores w_t, so it restores the buffers too: after one extragradient update
    the running statistics are those of the forward pass at w_t, not of the extrapolated one."""
    players, _ = make_players(digits, "extra_adam", dropout=0.0)
    reference = copy.deepcopy(players.game.ali)
    before = _running_stats(players.game.ali)
    torch.manual_seed(1)
    state = torch.get_rng_state()
    SCHEMES["extragradient"](resample=resample).step(players)
    # The same first draw (same batch, same RNG) through the untouched copy at w_t.
    torch.set_rng_state(state)
    batches = CountingBatches(digits, 0)
    draw = Game(reference, [], batches, CPU).draw()
    Game(reference, [], batches, CPU).losses(draw)
    after, expected = _running_stats(players.game.ali), _running_stats(reference)
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    for got, want in zip(after, expected, strict=True):
        torch.testing.assert_close(got, want)


def test_extragradient_without_resampling_reuses_the_instance_noise(digits):
    """`resample: false` promises the update sees the extrapolation's draw: the same images, prior,
    encoder noise AND instance noise. Two losses at one draw are then the same numbers."""
    from benchmark.stabilizers import parse_stabilizers

    torch.manual_seed(0)
    ali = build_ali(ModelConfig(z_dim=8, width=0.125, dropout=0.0), SHAPE).eval()
    noise = parse_stabilizers([{"name": "instance_noise", "std": 0.5, "schedule": "constant"}])
    game = Game(ali, noise, CountingBatches(digits), CPU)
    draw = game.draw()
    first, second = game.losses(draw), game.losses(draw)
    assert first.loss_d.item() == second.loss_d.item()
    assert first.loss_g.item() == second.loss_g.item()
    assert game.losses(game.draw()).loss_d.item() != first.loss_d.item()


@pytest.mark.parametrize(("scheme", "optimizer"), VALID_PAIRS)
@pytest.mark.parametrize("d_steps", [1, 3])
def test_gradient_evaluations_counted_are_the_ones_the_budget_assumes(digits, scheme, optimizer,
                                                                     d_steps):
    """The grad_evals budget divides by `evaluations_per_step`; the game counts its forward
    passes. Both agree for every valid pair, so a budget buys the compute it says."""
    players, _ = make_players(digits, optimizer)
    cls = SCHEMES[scheme]
    update = cls(d_steps=d_steps) if scheme == "alternating" else cls()  # others refuse it
    for _ in range(UPDATES):
        update.step(players)
    spec = OPTIMIZERS[optimizer]
    per_step = update.evaluations_per_step(getattr(spec.cls, "extrapolation_needs_gradient", True))
    assert players.game.evaluations == UPDATES * per_step
    expected = {"alternating": d_steps + 1, "simultaneous": 1,
                "extragradient": 1 if optimizer.startswith("past_") else 2}[scheme]
    assert per_step == expected


def test_a_gradient_evaluation_budget_sets_the_steps():
    from benchmark.schemes import total_steps

    def steps(**raw):
        grid = {"name": "g", "base": {"train": {"grad_evals": 600}, **raw}}
        return total_steps(expand_grid(grid).runs[0])

    assert steps(optim={"name": "adam"}) == 300  # alternating, 1 D step: 2 per step
    assert steps(optim={"name": "adam"}, scheme={"name": "alternating", "d_steps": 5}) == 100
    assert steps(optim={"name": "sgd"}, scheme={"name": "simultaneous"}) == 600
    assert steps(optim={"name": "extra_sgd"}, scheme={"name": "extragradient"}) == 300
    assert steps(optim={"name": "past_extra_adam"}, scheme={"name": "extragradient"}) == 600
    with pytest.raises(ConfigError, match="train.grad_evals: 1 buys no step"):
        expand_grid({"name": "g", "base": {"train": {"grad_evals": 1}}})


@pytest.mark.parametrize("scheme, optimizer", [("alternating", "sgd"), ("simultaneous", "sgd"),
                                               ("extragradient", "extra_sgd")])
def test_the_logged_gradient_norms_are_those_of_the_update(digits, scheme, optimizer):
    """With plain SGD each player moves by lr times the gradient its update used (for
    extragradient: the one taken at the extrapolated point, applied from w_t), so the
    distance it moved over lr is the logged norm."""
    lr_d, lr_g = 1e-3, 2e-3
    players, _ = make_players(digits, optimizer, lr_d=lr_d, lr_g=lr_g)
    ali = players.game.ali
    before = player_vectors(ali)
    losses = SCHEMES[scheme]().step(players)
    after = player_vectors(ali)
    moved_d = (after["discriminator"] - before["discriminator"]).norm().item() / lr_d
    moved_g = torch.cat([after[n] - before[n] for n in ("encoder", "decoder")]).norm().item() / lr_g
    stats = losses.stats()
    assert stats["grad_norm_d"] == pytest.approx(moved_d, rel=1e-3)
    assert stats["grad_norm_g"] == pytest.approx(moved_g, rel=1e-3)
    assert stats["d_real"] == pytest.approx(torch.sigmoid(torch.tensor(stats["d_logit_enc"])).item(),
                                            abs=0.05)  # the mean probability and mean logit agree


@pytest.mark.parametrize("scheme, optimizer", [("alternating", "adam"), ("simultaneous", "adam"),
                                               ("extragradient", "extra_adam")])
def test_under_the_autoencoder_objective_the_discriminator_sits_out(digits, scheme, optimizer):
    """No discriminator forward, gradient or step: one gradient evaluation per update of the
    encoder and decoder (two for extragradient), the discriminator's weights untouched."""
    from benchmark.objectives import OBJECTIVES
    from benchmark.stabilizers import parse_stabilizers

    players, _ = make_players(digits, optimizer)
    game = players.game
    game.objective = OBJECTIVES.get("autoencoder")
    game.stabilizers = parse_stabilizers([{"name": "cycle_consistency", "weight": 1.0}])
    before = player_vectors(game.ali)
    losses = SCHEMES[scheme]().step(players)
    after = player_vectors(game.ali)
    assert torch.equal(before["discriminator"], after["discriminator"])
    assert not torch.equal(before["encoder"], after["encoder"])
    assert not torch.equal(before["decoder"], after["decoder"])
    assert all(p.grad is None for p in game.ali.discriminator_parameters())
    assert set(losses.stats()) == {"loss_g", "grad_norm_g"}
    per_step = SCHEMES[scheme]().evaluations_per_step(True, discriminator_plays=False)
    assert game.evaluations == per_step == (2 if scheme == "extragradient" else 1)
