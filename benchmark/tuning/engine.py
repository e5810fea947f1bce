"""The search on Optuna: one study per config in an RDB storage (sqlite here, a database server
on a cluster), TPE proposing, successive halving pruning.

Reproducible by construction, whatever the number of workers and however often the search is
killed: trials are asked in batches of `search.parallel` (a batch is asked only once every
earlier trial is told), each trial's sampler is seeded from (sampler_seed, config, trial
number), and the pruner compares a trial only with trials of earlier batches. So trial n's
parameters and its pruning depend only on the seed and the outcomes of the trials before its
batch, never on timing. Runs are deterministic on a CPU, so the whole search is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, Trial, TrialState

from benchmark.errors import ConfigError
from benchmark.tracking.outcomes import Outcome
from benchmark.tuning.search import PRUNERS, Config, PrunerSpec, Search

DIGEST_ATTR = "alibench.search_digest"
CONFIG_ATTR = "alibench.config"
OUTCOME_ATTR = "alibench.outcome"  # a told trial: finished, pruned, diverged or failed
PRUNED_AT_ATTR = "alibench.pruned_at"  # set before a run is stopped, so a resume stops it too
FINAL_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def storage(url: str) -> optuna.storages.RDBStorage:
    """The RDB storage at `url`; sqlite waits for a lock instead of failing at once, since
    every worker writes its trial's reports into the same file."""
    kwargs = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


class EarlierBatchesPruner(BasePruner):
    """An Optuna pruner that sees only the trials of earlier batches: what trial n is compared
    with is then the same in every execution, however the trials of its batch interleave."""

    def __init__(self, inner: BasePruner, batch: int):
        self.inner, self.batch = inner, batch

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        return self.inner.prune(_TrialsBefore(study, trial.number - trial.number % self.batch),
                                trial)


class _TrialsBefore:
    """A study whose `get_trials` lists only the trials numbered below `start`."""

    def __init__(self, study: optuna.Study, start: int):
        self._study, self._start = study, start

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[FrozenTrial]:
        return [t for t in self._study.get_trials(deepcopy=deepcopy, states=states)
                if t.number < self._start]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


def make_pruner(spec: PrunerSpec, parallel: int) -> BasePruner:
    return EarlierBatchesPruner(PRUNERS[spec.name].build(spec), parallel)


def study_name(grid_name: str, config: Config) -> str:
    return f"{grid_name}/{config.label}"


def trial_seed(sampler_seed: int, config_key: str, number: int) -> int:
    """The sampler's seed for one trial: a fresh process asking trial n samples what an
    uninterrupted search sampled (a sampler's own RNG would restart with each invocation)."""
    text = f"{sampler_seed}/{config_key}/{number}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def open_study(url: str, grid_name: str, config: Config, search: Search) -> optuna.Study:
    """The config's study, created or loaded; one made by a different search is refused."""
    direction = "maximize" if search.higher_is_better else "minimize"
    name = study_name(grid_name, config)
    study = optuna.create_study(storage=storage(url), study_name=name, direction=direction,
                                pruner=make_pruner(search.pruner, search.parallel),
                                load_if_exists=True)
    digest = search.digest(config)
    found = study.user_attrs.get(DIGEST_ATTR)
    if found is None:
        study.set_user_attr(DIGEST_ATTR, digest)
        study.set_user_attr(CONFIG_ATTR, config.key)
    elif found != digest:
        raise ConfigError(f"search: study {name!r} in {url!r} was made by another search "
                          f"(config or search section changed); give the grid a new name or "
                          f"use another --storage")
    return study


def _suggest(trial: Trial, name: str, dist: Any) -> Any:
    """The public `suggest_*` for an Optuna distribution; a value already set is returned."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    assert isinstance(dist, CategoricalDistribution), dist
    return trial.suggest_categorical(name, dist.choices)


def _seeded(study: optuna.Study, search: Search, config: Config, number: int) -> None:
    study.sampler = optuna.samplers.TPESampler(
        seed=trial_seed(search.sampler_seed, config.key, number),
        n_startup_trials=search.startup_trials)


@dataclass
class Pending:
    """A trial to run (new, or asked by an invocation that was killed)."""

    config: Config
    number: int
    params: dict[str, Any]


def batch_trials(study: optuna.Study, search: Search, config: Config,
                 batch: int) -> Iterator[Pending]:
    """The trials of batch `batch` still to run, asking those not asked yet. A trial asked but
    killed before all its parameters were set gets the rest drawn now."""
    first = batch * search.parallel
    distributions = search.distributions()
    trials = study.get_trials(deepcopy=False)
    for number in range(first, min(first + search.parallel, search.trials)):
        if number < len(trials):
            frozen = trials[number]
            if frozen.state in FINAL_STATES:
                continue
            _seeded(study, search, config, number)
            trial = Trial(study, frozen._trial_id)
        else:
            assert number == len(trials), (number, len(trials))
            _seeded(study, search, config, number)
            trial = study.ask()
            trials = study.get_trials(deepcopy=False)
        params = {k: _suggest(trial, k, d) for k, d in distributions.items()}
        yield Pending(config, number, params)


def tell(study: optuna.Study, number: int, outcome: Outcome, value: float | None) -> None:
    """Record a trial's outcome: finished (with its objective), pruned (the pruner's decision,
    its last reported value kept), diverged or failed (no value: Optuna's FAIL)."""
    trial = study.get_trials(deepcopy=False)[number]
    if trial.state in FINAL_STATES:
        return
    Trial(study, trial._trial_id).set_user_attr(OUTCOME_ATTR, str(outcome))
    if outcome == Outcome.FINISHED:
        study.tell(number, value)
    elif outcome == Outcome.PRUNED:
        study.tell(number, state=TrialState.PRUNED)
    else:
        study.tell(number, state=TrialState.FAIL)
