"""What a metric is, and the registry `eval.metrics` chooses from.

A metric declares, in one place, everything the rest of the suite needs to know about it: how to
compute it, on which data, the keys it logs and, for each key, which way is better, the baseline
it stands beside and how the report shows it. Validation, `--help`, MLflow and the report read
these declarations, so a registered metric needs no other edit.

This is the bottom of `benchmark.evaluation`: it imports neither torch nor any metric's code, and
no module of the package is imported by it. Each built-in metric family registers itself in its
own module (`reconstruction.py`, `fidelity.py`, `prdc.py`, `probe.py`, `recon_acc.py`,
`modes.py`) with the same `METRICS.register` a plug-in uses; those modules import torch only
inside the functions that compute, so the report reads every declaration without loading torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

from benchmark.registry import Registry

# What compute and baseline take (`benchmark.evaluation.context.EvalContext`) and what check
# takes (`benchmark.evaluation.settings.EvalConfig`): named, not imported, so that nothing here
# imports the modules built on top of it.
EvalContext = Any
EvalConfig = Any

DATA_KINDS = ("image", "points")
AVERAGED_PREFIX = "avg_"  # avg_<kind>.<key>: the same metric, of averaged parameters
UNTRAINED_PREFIX = "untrained_"  # untrained_<key>: the networks at step 0, scored like trained


@dataclass(frozen=True)
class Baseline:
    """A number logged beside a metric: at step 0 (`Metric.baseline`) or with every evaluation.

    `key` may contain `{key}`, the metric's own key (`{key}_heldout`). `floor`: what a trivial
    model scores (mean image, random encoder); a config that does not beat it is flagged.
    Otherwise a ceiling, the best the instrument can give (the classifier's accuracy on real
    images bounds recon_acc): shown beside, never flagged.
    """

    key: str
    name: str  # in words, as the page says it: "mean-image baseline"
    floor: bool = True

    def key_for(self, key: str) -> str:
        return self.key.replace("{key}", key)


# The same networks at step 0, scored by exactly the protocol the trained ones get: a config
# that ends no better than where it started has not learned what this key measures.
UNTRAINED = Baseline(UNTRAINED_PREFIX + "{key}", "untrained-model baseline", floor=True)


@dataclass(frozen=True)
class MetricKey:
    """One key (or a family, `*` standing for a setting such as the extractor: `fid_*`) that a
    metric's compute returns, and how the report shows it.

    `label` names the summary column: `{key}` is the logged key, any other `{<param>}` the run's
    param (`{eval.fid_gen_count}`), so numbers made with other settings never share a column.
    `digits`: significant digits of the means on the page. `plotted`: a panel in the final-metric
    figure. `best`: also a `(best)` column, the best value of the key's history (the live column
    is then called `(final)`). `untrained`: the untrained-model baseline every key has beside
    its own `baseline` (None for a key with nothing to beat, such as an estimate's spread).
    `title` and `about` name it in figures when it is a study's headline (`headline:` in a grid,
    `--headline` of the report): "Reconstruction MSE", "on held-out images"; default the key.
    """

    key: str
    higher_is_better: bool
    baseline: Baseline | None = None
    label: str = "{key}"
    digits: int = 4
    plotted: bool = True
    best: bool = False
    untrained: Baseline | None = UNTRAINED
    title: str = ""
    about: str = ""

    @property
    def baselines(self) -> tuple[Baseline, ...]:
        """Every baseline shown beside this key: its own first, then the untrained model."""
        return tuple(b for b in (self.baseline, self.untrained) if b is not None)

    def matches(self, key: str) -> bool:
        return fnmatchcase(key, self.key)

    def beats(self, value: float, baseline: float) -> bool:
        """Whether `value` is strictly better than `baseline` in this key's direction."""
        return value > baseline if self.higher_is_better else value < baseline

    def column(self, key: str, params: Mapping[str, Any]) -> str:
        """The summary column of logged `key` (averaged or not) for a run with `params`."""
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            value = key if name == "key" else params.get(name)
            return "?" if value is None or value != value else str(value)  # NaN: not logged
        label = re.sub(r"\{([^{}]+)\}", fill, self.label)
        return f"{label} (final)" if self.best and base_key(key) == key else label

    def best_column(self, key: str, params: Mapping[str, Any]) -> str:
        return self.column(key, params).removesuffix(" (final)") + " (best)"

    def resolved(self, key: str) -> MetricKey:
        """This declaration for one logged key (averaged or not): its baseline's key filled in
        (`{key}_heldout` -> `precision_classifier_k3_heldout`); an averaged key shares the live
        key's baselines (`avg_ema.recon_mse` -> `untrained_recon_mse`)."""
        def fill(base: Baseline | None) -> Baseline | None:
            return None if base is None else replace(base, key=base.key_for(base_key(key)))
        return replace(self, baseline=fill(self.baseline), untrained=fill(self.untrained))


@dataclass(frozen=True)
class Metric:
    """One metric of `eval.metrics`.

    compute:         the evaluator's per-call context (model and fixed inputs) -> flat dict of
                     floats, whose keys `keys` declares.
    kinds:           the data kinds it applies to (`image`, `points`).
    keys:            what compute returns, for the report (a key it does not declare is logged
                     to MLflow but never shown).
    needs_labels:    refused on data without classes (CelebA) before a run starts.
    needs_modes:     refused on data whose source declares no `modes` (centres and spread).
    fid_features:    works in the FID's feature space (`eval.fid_extractor`), whose weights the
                     evaluator resolves before training.
    uses_classifier: uses the dataset's classifier (its test accuracy is logged at step 0).
    baseline:        step-0 baselines, cached on disk per data and settings: called with a
                     context whose encoder is randomly initialised (None when the run has no way
                     to build one) and that has no decoder.
    check:           refuses impossible settings of this metric with a ConfigError, before a run.
    counts:          the `eval.*_count` fields it reads; each drawn from a split must fit in it
                     (`COUNT_SPLITS`), checked before a run rather than silently cut.
    """

    compute: Callable[[EvalContext], dict[str, float]]
    kinds: tuple[str, ...]
    keys: tuple[MetricKey, ...]
    needs_labels: bool = False
    needs_modes: bool = False
    fid_features: bool = False
    uses_classifier: bool = False
    baseline: Callable[[EvalContext], dict[str, float]] | None = None
    check: Callable[[EvalConfig], None] | None = None
    counts: tuple[str, ...] = ()


# The split each fixed input set of `EvalConfig` is drawn from; None for counts of generated
# samples, which no split bounds (a metric still declares them: a count no metric of a run reads
# does not move its run key, `settings.keyed_counts`).
COUNT_SPLITS = {"recon_count": "test", "probe_test_count": "test", "knn_train_count": "train",
                "fid_real_count": "test", "classifier_train_count": "train",
                "fid_gen_count": None, "kid_subset_size": None}


def _check_metric(name: str, metric: Metric) -> None:
    if not isinstance(metric, Metric) or not callable(metric.compute):
        raise TypeError(f"metric {name!r} must be a Metric with a callable compute, "
                        f"got {type(metric).__name__}")
    unknown = [k for k in metric.kinds if k not in DATA_KINDS]
    if not metric.kinds or unknown:
        raise ValueError(f"metric {name!r}: kinds {metric.kinds!r} must be among {DATA_KINDS}")
    unknown = sorted(set(metric.counts) - set(COUNT_SPLITS))
    if unknown:
        raise ValueError(f"metric {name!r}: counts {unknown} must be among {sorted(COUNT_SPLITS)}")
    if not metric.keys or not all(isinstance(k, MetricKey) for k in metric.keys):
        raise ValueError(f"metric {name!r}: keys must declare at least one MetricKey (the "
                         "report shows only declared keys)")


METRICS: Registry[Metric] = Registry("metric", "eval.metrics", check=_check_metric)


def base_key(key: str) -> str:
    """The key without the `avg_<kind>.` prefix of averaged parameters."""
    return key.split(".", 1)[1] if key.startswith(AVERAGED_PREFIX) and "." in key else key


def declared_keys() -> list[MetricKey]:
    """Every registered metric's keys: metrics by name, keys in their declared order."""
    return [k for _, metric in METRICS.items() for k in metric.keys]


def declared(key: str) -> MetricKey | None:
    """The declaration of a logged key (averaged or not), its baseline key resolved; None for
    keys that are no declared metric of the model (losses, times, the baselines themselves:
    `untrained_<key>` is never a metric, whatever a plug-in's pattern matches).
    Where several declarations match, the most specific wins, the one with the most literal
    characters (`kid_*_std` over `kid_*`); among equals, the first declared."""
    base = base_key(key)
    if base.startswith(UNTRAINED_PREFIX):
        return None
    found = max((k for k in declared_keys() if k.matches(base)),
                key=lambda k: len(k.key.replace("*", "")), default=None)
    return None if found is None else found.resolved(key)


def position(found: MetricKey) -> int:
    """Where a declaration comes among all of them (the report's column order)."""
    patterns = [k.key for k in declared_keys()]
    return patterns.index(found.key) if found.key in patterns else len(patterns)


def summary_keys(keys: Iterable[str]) -> list[str]:
    """The live networks' declared metrics among `keys`, in the report's column order: what a
    finished run's summary line and the MLflow comparison view show."""
    found = [(not d.best, position(d), k) for k in keys
             if base_key(k) == k and (d := declared(k)) is not None]
    return [k for *_, k in sorted(found)]


def uses_fid_features(metrics: list[str] | set[str]) -> bool:
    """Whether any of the (registered) metrics needs the FID's feature extractor."""
    return any(METRICS[name].fid_features for name in metrics if name in METRICS)
