"""The search on Optuna is reproducible: trial n's parameters depend on the sampler seed and the
outcomes of earlier batches only, not on the process that asks (a search killed and rerun asks
what an uninterrupted one asked), and the pruner compares a trial with earlier batches only.
Real Optuna studies in a real sqlite storage; outcomes told directly (no training)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from benchmark.tuning import engine
from benchmark.tuning.search import PrunerSpec, load_tune_grid

SMOKE = Path(__file__).resolve().parents[2] / "grids" / "tune" / "smoke.yaml"


def objective(params: dict) -> float:
    """A smooth stand-in for a trained run's recon_mse, best at lr_g 1e-3, lr_d 1e-4."""
    return (math.log10(params["optim.lr_g"]) + 3) ** 2 + (math.log10(params["optim.lr_d"]) + 4) ** 2


def run_search(url: str, tune, crash_in_batch: int | None = None) -> None:
    """The driver's loop: ask a batch for every config, tell its outcomes, next batch. With
    `crash_in_batch`, stop after asking that batch (nothing told), as a SIGKILL would."""
    search = tune.search
    studies = {c.key: engine.open_study(url, tune.name, c, search) for c in tune.configs}
    for batch in range(-(-search.trials // search.parallel)):
        pending = [p for c in tune.configs
                   for p in engine.batch_trials(studies[c.key], search, c, batch)]
        if batch == crash_in_batch:
            return
        for p in pending:
            engine.tell(studies[p.config.key], p.number, "finished", objective(p.params))


def sampled(url: str, tune) -> list[tuple[str, int, str, dict]]:
    out = []
    for config in tune.configs:
        study = optuna.load_study(study_name=engine.study_name(tune.name, config),
                                  storage=engine.storage(url))
        out += [(config.label, t.number, t.state.name, t.params) for t in study.get_trials()]
    return out


@pytest.fixture(params=[1, 3], ids=["parallel1", "parallel3"])
def tune(request):
    grid = load_tune_grid(SMOKE)
    grid.search = replace(grid.search, trials=8, startup_trials=3, parallel=request.param)
    return grid


def test_a_killed_and_rerun_search_asks_what_an_uninterrupted_one_asked(tmp_path, tune):
    whole, killed = f"sqlite:///{tmp_path}/whole.db", f"sqlite:///{tmp_path}/killed.db"
    run_search(whole, tune)
    run_search(killed, tune, crash_in_batch=1)
    run_search(killed, tune, crash_in_batch=2)  # killed again, in a later batch
    run_search(killed, tune)
    expected = sampled(whole, tune)
    assert len(expected) == 2 * 8 and all(state == "COMPLETE" for _, _, state, _ in expected)
    assert sampled(killed, tune) == expected
    # TPE proper (past the 3 random start-up trials) moves towards the optimum.
    first, rest = expected[:3], expected[3:8]
    assert min(objective(p) for *_, p in rest) < min(objective(p) for *_, p in first)


def test_another_sampler_seed_samples_other_values(tmp_path, tune):
    run_search(f"sqlite:///{tmp_path}/a.db", tune)
    other = replace(tune.search, sampler_seed=1)
    tune.search = other
    run_search(f"sqlite:///{tmp_path}/b.db", tune)
    a = [p for *_, p in sampled(f"sqlite:///{tmp_path}/a.db", tune)]
    b = [p for *_, p in sampled(f"sqlite:///{tmp_path}/b.db", tune)]
    assert a != b and len(a) == len(b) == 16


def test_a_changed_search_is_refused_on_the_same_storage(tmp_path, tune):
    url = f"sqlite:///{tmp_path}/o.db"
    run_search(url, tune, crash_in_batch=0)
    tune.search = replace(tune.search, trials=9)
    with pytest.raises(ValueError, match=r"search: study 'tune_smoke/.*' in .* was made by "
                                         r"another search"):
        run_search(url, tune)


def _report(study: optuna.Study, value: float) -> tuple[int, bool]:
    trial = study.ask()
    trial.report(value, 2)
    return trial.number, trial.should_prune()


@pytest.mark.parametrize(("batch", "pruned"), [(2, False), (1, True)])
def test_the_pruner_compares_a_trial_with_earlier_batches_only(tmp_path, batch, pruned):
    """Trials 0, 1 (batch 0 when batches hold 2) reach the rung at 0.5 and 0.9; trial 2, of the
    same batch as trial 3 when batches hold 2, at 0.1. Trial 3 at 0.45 is the best of its own
    batch's past (kept), but not the best third with trial 2 counted (pruned)."""
    spec = PrunerSpec("successive_halving", (2,), 3)
    study = optuna.create_study(storage=engine.storage(f"sqlite:///{tmp_path}/p.db"),
                                pruner=engine.make_pruner(spec, batch))
    for value in (0.5, 0.9):
        number, _ = _report(study, value)
        study.tell(number, value)
    _report(study, 0.1)  # trial 2: still running
    number, decision = _report(study, 0.45)
    assert number == 3 and decision is pruned
