"""A tune grid: the usual grid keys (its configs are the methods to compare) plus `search:`.

Everything is checked before anything runs: each range is applied, at its ends (or each choice),
to every config and validated as a run would be, so a range a config cannot take is one line now
and not a failed trial an hour in. See docs/tuning.md for the section's keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.errors import ConfigError
from benchmark.grid import expand_grid
from benchmark.grid_yaml import SpelledFloat, read_grid_file
from benchmark.registry import Registry
from benchmark.run_config import RunConfig, config_key, config_name, validate_run
from benchmark.validation import from_dict, key_text, merge, section_values

SEARCH_KEYS = ("params", "trials", "objective", "budget", "pruner", "sampler_seed",
               "startup_trials", "seeds", "confirm_seeds", "parallel")
BUDGET_KEYS = {"train.steps": "steps", "train.grad_evals": "grad_evals"}  # key -> resource unit
MIN_CONFIRM_SEEDS = 5


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Distribution:
    """One way to draw a hyperparameter: `check(where, args)` refuses bad arguments, `build`
    makes the Optuna distribution, `ends` lists the values every config must accept."""

    check: Any
    build: Any
    ends: Any


def _check_range(where: str, args: Any, integer: bool = False, positive: bool = False) -> None:
    kind = "integers" if integer else "numbers"
    if (not isinstance(args, list) or len(args) != 2
            or not all(_number(a) and (not integer or isinstance(a, int)) for a in args)):
        raise ConfigError(f"{where}: expected [low, high], two {kind}, got {args!r}")
    if not args[0] < args[1]:
        raise ConfigError(f"{where}: low {args[0]!r} must be below high {args[1]!r}")
    if positive and args[0] <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0, got {args[0]!r}")


def _check_choices(where: str, args: Any) -> None:
    if not isinstance(args, list) or not args:
        raise ConfigError(f"{where}: expected a non-empty list of values, got {args!r}")
    plain = [_plain(a) for a in args]
    if any(not isinstance(a, (str, int, float, bool)) for a in plain):
        raise ConfigError(f"{where}: choices are numbers, strings or booleans, got {args!r}")
    if len({json.dumps(a) for a in plain}) != len(plain):
        raise ConfigError(f"{where}: a choice appears twice in {args!r}")


def _plain(value: Any) -> Any:
    """A grid number as a plain Python number (Optuna stores params as JSON)."""
    return float(value) if isinstance(value, SpelledFloat) else value


def _float_dist(log: bool):
    def build(args: list):
        from optuna.distributions import FloatDistribution

        return FloatDistribution(float(args[0]), float(args[1]), log=log)
    return build


def _int_dist(log: bool):
    def build(args: list):
        from optuna.distributions import IntDistribution

        return IntDistribution(int(args[0]), int(args[1]), log=log)
    return build


def _categorical(args: list):
    from optuna.distributions import CategoricalDistribution

    return CategoricalDistribution([_plain(a) for a in args])


DISTRIBUTIONS: Registry[Distribution] = Registry("distribution", "search.params.<key>")
DISTRIBUTIONS.register("uniform", Distribution(
    lambda w, a: _check_range(w, a), _float_dist(False), lambda a: [float(x) for x in a]))
DISTRIBUTIONS.register("log_uniform", Distribution(
    lambda w, a: _check_range(w, a, positive=True), _float_dist(True),
    lambda a: [float(x) for x in a]))
DISTRIBUTIONS.register("int", Distribution(
    lambda w, a: _check_range(w, a, integer=True), _int_dist(False), list))
DISTRIBUTIONS.register("log_int", Distribution(
    lambda w, a: _check_range(w, a, integer=True, positive=True), _int_dist(True), list))
DISTRIBUTIONS.register("choice", Distribution(_check_choices, _categorical,
                                              lambda a: [_plain(x) for x in a]))


@dataclass(frozen=True)
class Param:
    key: str  # dotted config key, e.g. optim.lr_g
    kind: str  # a DISTRIBUTIONS name
    args: tuple

    def distribution(self):
        return DISTRIBUTIONS[self.kind].build(list(self.args))


@dataclass(frozen=True)
class PrunerSpec:
    name: str
    rungs: tuple[int, ...] = ()  # resource (steps or grad_evals) at which trials are compared
    reduction_factor: int = 2  # the best 1/reduction_factor of a rung goes on


@dataclass(frozen=True)
class PrunerKind:
    """A pruner by name: whether it takes rungs, and the Optuna pruner it builds."""

    needs_rungs: bool
    build: Any


def _successive_halving(spec: PrunerSpec):
    from optuna.pruners import SuccessiveHalvingPruner

    # min_early_stopping_rate 0 and bootstrap_count 0: the rungs are exactly the stated ones,
    # rungs[0] * reduction_factor**k (checked in parse_pruner).
    return SuccessiveHalvingPruner(min_resource=spec.rungs[0],
                                   reduction_factor=spec.reduction_factor,
                                   min_early_stopping_rate=0, bootstrap_count=0)


def _no_pruner(spec: PrunerSpec):
    from optuna.pruners import NopPruner

    return NopPruner()


PRUNERS: Registry[PrunerKind] = Registry("pruner", "search.pruner.name")
PRUNERS.register("successive_halving", PrunerKind(True, _successive_halving))
PRUNERS.register("none", PrunerKind(False, _no_pruner))


@dataclass
class Config:
    """One method the search compares: its resolved config with the budget applied (seed and
    sampled values still to come), a readable label and its key."""

    label: str
    key: str
    cfg: RunConfig


@dataclass
class Search:
    params: list[Param]
    trials: int
    objective: str
    higher_is_better: bool
    budget_key: str
    budget: int
    pruner: PrunerSpec
    sampler_seed: int
    startup_trials: int
    seeds: list[int]
    confirm_seeds: list[int]
    parallel: int

    @property
    def resource(self) -> str:
        """What the pruner's rungs count: `steps` or `grad_evals`."""
        return BUDGET_KEYS[self.budget_key]

    def distributions(self) -> dict:
        return {p.key: p.distribution() for p in self.params}

    def digest(self, config: Config) -> str:
        """Everything that makes a study's trials what they are; a rerun that changes any of it
        would mix two searches in one study, so it is refused."""
        search = dataclasses.asdict(self)
        search.pop("confirm_seeds")  # only the confirmation grid reads them
        payload = {"config": config.key, "search": search}
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class TuneGrid:
    name: str
    path: Path | None
    description: str
    configs: list[Config]
    search: Search
    raw: dict = field(default_factory=dict)


def _int_key(raw: dict, key: str, default: Any = None, minimum: int = 0) -> int:
    value = raw.get(key, default)
    if value is None:
        raise ConfigError(f"search.{key}: required (an integer of at least {minimum})")
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"search.{key}: expected an integer of at least {minimum}, "
                          f"got {value!r}")
    return value


def _seeds(raw: dict, key: str, default: list[int] | None) -> list[int]:
    value = raw.get(key, default)
    if (not isinstance(value, list) or not value
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
            or len(set(value)) != len(value)):
        raise ConfigError(f"search.{key}: expected a list of distinct seeds (integers >= 0), "
                          f"got {value!r}")
    return value


def parse_params(raw: Any) -> list[Param]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"search.params: expected a mapping of dotted config key -> "
                          f"{{distribution: args}}, got {raw!r}")
    params = []
    for key, spec in raw.items():
        where = f"search.params.{key_text(key)}"
        if key in ("seed",) or str(key).startswith("train."):
            raise ConfigError(f"{where}: not a hyperparameter to search (seeds are "
                              f"search.seeds, the budget search.budget)")
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ConfigError(f"{where}: expected one {{distribution: args}}, e.g. "
                              f"{{log_uniform: [1e-5, 1e-2]}}; distributions: "
                              f"{', '.join(DISTRIBUTIONS.names())}, got {spec!r}")
        ((kind, args),) = spec.items()
        DISTRIBUTIONS.get(kind, where)
        DISTRIBUTIONS[kind].check(f"{where}.{kind}", args)
        params.append(Param(str(key), kind, tuple(DISTRIBUTIONS[kind].ends(args))))
    return params


def parse_budget(raw: Any) -> tuple[str, int]:
    choices = ", ".join(BUDGET_KEYS)
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ConfigError(f"search.budget: expected one of {choices} with a number, got {raw!r}")
    ((key, value),) = raw.items()
    if key not in BUDGET_KEYS:
        raise ConfigError(f"search.budget: unknown key {key!r}; choose from: {choices}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"search.budget.{key}: expected a positive integer, got {value!r}")
    return key, value


def parse_pruner(raw: Any, total: int, unit: str) -> PrunerSpec:
    """`{name: successive_halving, rungs: [r0, r0*f, ...]}` or `{name: none}`. The rungs must
    be every rung the pruner will use: geometric, and the next one past the trial's total
    resource `total` (all its seeds), so no unstated rung prunes a trial."""
    if raw is None:
        raw = {"name": "none"}
    if not isinstance(raw, dict):
        raise ConfigError(f"search.pruner: expected a mapping with name and rungs, got {raw!r}")
    unknown = sorted(set(map(str, raw)) - {"name", "rungs", "reduction_factor"})
    if unknown:
        raise ConfigError(f"search.pruner.{unknown[0]}: unknown key; valid keys: name, rungs, "
                          f"reduction_factor")
    name = raw.get("name")
    kind = PRUNERS.get(name)
    if not kind.needs_rungs:
        if "rungs" in raw:
            raise ConfigError(f"search.pruner.rungs: pruner {name!r} takes no rungs")
        return PrunerSpec(name)
    rungs = raw.get("rungs")
    if (not isinstance(rungs, list) or not rungs
            or not all(isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in rungs)):
        raise ConfigError(f"search.pruner.rungs: expected a list of positive integers ({unit}), "
                          f"got {rungs!r}")
    factor = raw.get("reduction_factor", rungs[1] // rungs[0] if len(rungs) > 1 else 2)
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
        raise ConfigError(f"search.pruner.reduction_factor: expected an integer >= 2, got "
                          f"{factor!r}")
    expected = [rungs[0] * factor ** k for k in range(len(rungs))]
    if rungs != expected:
        raise ConfigError(f"search.pruner.rungs: {rungs} are not rungs[0] * {factor}**k; "
                          f"successive halving would use {expected}")
    if rungs[-1] >= total:
        raise ConfigError(f"search.pruner.rungs: {rungs[-1]} is not below a trial's total "
                          f"{total} {unit}; every rung must come before the end")
    following = rungs[-1] * factor
    if following < total:
        raise ConfigError(f"search.pruner.rungs: {rungs} stop early: successive halving also "
                          f"compares at {following} {unit} (below the total {total}); "
                          f"state that rung too")
    if following == total:
        raise ConfigError(f"search.pruner.rungs: {rungs} x reduction_factor {factor} reaches "
                          f"the total {total} {unit}, where successive halving could prune a "
                          f"finished trial; choose rungs or a factor whose next rung passes it")
    return PrunerSpec(str(name), tuple(rungs), factor)


def objective_direction(key: Any, configs: list[Config]) -> bool:
    """Whether higher is better for `key`, from its metric's declaration; the key must be
    declared and logged by every config's `eval.metrics`."""
    from benchmark.evaluation.declarations import METRICS, base_key, declared, declared_keys

    found = declared(key) if isinstance(key, str) else None
    if found is None:
        keys = ", ".join(sorted({k.key for k in declared_keys()}))
        raise ConfigError(f"search.objective: unknown metric key {key!r}; choose from: {keys}")
    owners = {name for name, metric in METRICS.items()
              if any(k.matches(base_key(key)) for k in metric.keys)}
    for config in configs:
        if not owners & set(config.cfg.eval.metrics):
            raise ConfigError(f"search.objective: {key!r} is not logged by config "
                              f"{config.label!r}; add {' or '.join(sorted(owners))} to its "
                              f"eval.metrics")
    return found.higher_is_better


def config_values(cfg: Any) -> dict:
    """A config as the nested plain mapping a grid would write (lists, not tuples)."""
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {k: plain(v) for k, v in section_values(value).items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(cfg)


def with_values(cfg: RunConfig, values: dict[str, Any], where: str = "") -> RunConfig:
    """`cfg` with dotted-key `values` set, validated as a run is."""
    try:
        out = from_dict(RunConfig, merge(config_values(cfg), values))
        validate_run(out)
    except ConfigError as err:
        raise ConfigError(f"{where}{err}" if where else str(err)) from None
    return out


def _check_params(params: list[Param], configs: list[Config]) -> None:
    """Each end of each range (each choice) is a value every config can run with."""
    for param in params:
        for value in DISTRIBUTIONS[param.kind].ends(list(param.args)):
            for config in configs:
                with_values(config.cfg, {param.key: value},
                            f"search.params.{param.key} = {value!r} in {config.label}: ")


def _label(cfg: RunConfig, params: list[Param]) -> str:
    """The config's name, without its learning rates when the search sets them."""
    name = config_name(cfg)
    if {"optim.lr_g", "optim.lr_d"} & {p.key for p in params}:
        name = name.rsplit("-lr", 1)[0]
    return name


def _configs(grid_raw: dict, source: str, overrides: dict | None, budget: dict,
             params: list[Param]) -> tuple[str, str, list[Config]]:
    axes = grid_raw.get("axes") or {}
    if isinstance(axes, dict) and "seed" in axes:
        raise ConfigError("axes.seed: a tune grid's seeds are search.seeds (tuning) and "
                          "search.confirm_seeds (confirmation)")
    grid = expand_grid(grid_raw, source, merge(overrides or {}, budget))
    configs: list[Config] = []
    for cfg in grid.runs:
        cfg = with_values(cfg, {"seed": 0})
        key = config_key(cfg)
        if any(c.key == key for c in configs):
            continue
        configs.append(Config(_label(cfg, params), key, cfg))
    labels = [c.label for c in configs]
    for config in configs:  # configs that differ only in fields the name leaves out
        if labels.count(config.label) > 1:
            config.label = f"{config.label}-{config.key[:6]}"
    return grid.name, grid.description, configs


def parse_tune_grid(raw: Any, source: str = "grid", overrides: dict | None = None) -> TuneGrid:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a tune grid is a mapping with the grid keys and search")
    raw = dict(raw)
    search = raw.pop("search", None)
    if not isinstance(search, dict):
        raise ConfigError(f"search: expected a mapping with keys {', '.join(SEARCH_KEYS)}, "
                          f"got {search!r}")
    unknown = sorted(set(map(str, search)) - set(SEARCH_KEYS))
    if unknown:
        raise ConfigError(f"search.{key_text(unknown[0])}: unknown key; valid keys: "
                          f"{', '.join(SEARCH_KEYS)}")
    params = parse_params(search.get("params"))
    budget_key, budget = parse_budget(search.get("budget"))
    budget_values = {budget_key: budget}  # train.steps budget: any base grad_evals dropped
    if budget_key == "train.steps":
        budget_values["train.grad_evals"] = None
    name, description, configs = _configs(raw, source, overrides, budget_values, params)
    trials = _int_key(search, "trials", minimum=1)
    seeds = _seeds(search, "seeds", [0])
    confirm = _seeds(search, "confirm_seeds",
                     list(range(max(seeds) + 1, max(seeds) + 1 + MIN_CONFIRM_SEEDS)))
    if len(confirm) < MIN_CONFIRM_SEEDS or set(confirm) & set(seeds):
        raise ConfigError(f"search.confirm_seeds: expected at least {MIN_CONFIRM_SEEDS} seeds "
                          f"that tuning never uses (search.seeds {seeds}), got {confirm!r}")
    pruner = parse_pruner(search.get("pruner"), budget * len(seeds), BUDGET_KEYS[budget_key])
    _check_params(params, configs)
    return TuneGrid(name, None, description, configs, Search(
        params=params, trials=trials,
        objective=search.get("objective"),
        higher_is_better=objective_direction(search.get("objective"), configs),
        budget_key=budget_key, budget=budget, pruner=pruner,
        sampler_seed=_int_key(search, "sampler_seed", 0),
        startup_trials=_int_key(search, "startup_trials", 10),
        seeds=seeds, confirm_seeds=confirm,
        parallel=_int_key(search, "parallel", 1, minimum=1)), raw)


def load_tune_grid(path: str | Path, overrides: dict | None = None) -> TuneGrid:
    """Read a tune grid file (the grid files' YAML dialect: `1e-3` is a float) and check it."""
    tune = parse_tune_grid(read_grid_file(path), str(path), overrides)
    tune.path = Path(path)
    return tune
