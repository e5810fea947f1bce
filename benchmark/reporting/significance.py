"""Comparisons between configs on each final metric: by how much, how surely, and whether the
design could have told.

Which pairs are compared is the study's design (`design.PAIRINGS`): every config against the
reference by default, all pairs only when asked. Each comparison of a config B with A (the
reference) gives the difference mean(B) - mean(A) with its 95% bootstrap interval, the
probability of improvement P(B better than A) with its interval (`intervals`), and the p-value
of a named test (`--test`): by default the exact two-sided Mann-Whitney test. Holm corrects the
p-values over the comparisons actually made on one metric.

An exact test has a smallest attainable p: 2 / C(n_a + n_b, n_a) with no ties, so 0.1 for 3 vs
3 seeds, 0.029 for 4 vs 4, 0.0079 for 5 vs 5, and Holm multiplies the smallest p by the number
of comparisons. When that floor is above 0.05, or the difference's interval is wider than the
effect the study asks about (`effects`), a non-significant result says nothing about the
configs: the verdict is "underpowered", never "no difference".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.evaluation.declarations import MetricKey
from benchmark.registry import Registry
from benchmark.reporting import intervals

MIN_SEEDS = 2  # a config with one run is shown in the summary but never tested
ALPHA = 0.05  # the family-wise error rate Holm controls on each metric
STUDY_SEEDS = 5  # the fewest seeds a study config has: the exact 5 vs 5 floor is 0.0079
MAX_SPLITS = 1_000_000  # ties: exact permutation test up to this many splits (12 vs 12 seeds)
BETTER, WORSE, NO_DIFFERENCE, UNDERPOWERED = ("better", "worse", "no difference detected",
                                              "underpowered")


@dataclass(frozen=True)
class PairTest:
    """A two-sample test: `run(a, b) -> (statistic, p)`; `floor(n_a, n_b)` the smallest p
    its exact form can give (0 when there is no such floor)."""

    title: str
    run: Callable[[np.ndarray, np.ndarray], tuple[float, float]]
    floor: Callable[[int, int], float]


def _mannwhitney(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Exact two-sided Mann-Whitney U. Without ties scipy's exact null distribution; with ties
    (where scipy's 'exact' is not exact) the permutation distribution of U over every split of
    the pooled seeds, which is the exact test then. Never the normal approximation."""
    if len(np.unique(np.concatenate([a, b]))) == len(a) + len(b):
        method: str | stats.PermutationMethod = "exact"
    else:
        method = stats.PermutationMethod(n_resamples=MAX_SPLITS,
                                         rng=np.random.default_rng(intervals.SEED))
    result = stats.mannwhitneyu(a, b, alternative="two-sided", method=method)
    return float(result.statistic), float(result.pvalue)


def _mannwhitney_floor(n_a: int, n_b: int) -> float:
    """The exact two-sided test's smallest p: both extreme orderings out of C(n_a+n_b, n_a)."""
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    with warnings.catch_warnings():  # identical samples give NaN, which the table shows as '-'
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def _no_floor(n_a: int, n_b: int) -> float:
    return 0.0


def _check_test(name: str, test: PairTest) -> None:
    if not isinstance(test, PairTest) or not callable(test.run) or not callable(test.floor):
        raise TypeError(f"test {name!r} must be a PairTest with callable run and floor, "
                        f"got {type(test).__name__}")


TESTS: Registry[PairTest] = Registry("test", "--test", check=_check_test)


def get_test(name: str) -> PairTest:
    """The registered test `name`; ConfigError listing the known ones."""
    return TESTS.get(name)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1; NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out


def verdict(p_holm: float, p_improvement: float, floor_holm: float, width: float,
            effect: float | None) -> str:
    """better / worse when Holm's p is at most ALPHA; else underpowered when the design could
    not have reached ALPHA or the interval is wider than the effect asked about; else no
    difference detected."""
    if p_holm <= ALPHA:
        return BETTER if p_improvement > 0.5 else WORSE
    if floor_holm > ALPHA or (effect is not None and not width <= effect):
        return UNDERPOWERED
    return NO_DIFFERENCE


COLUMNS = ["metric", "config_a", "config_b", "label_a", "label_b", "n_a", "n_b", "mean_a",
           "mean_b", "diff", "diff ci95 low", "diff ci95 high", "p_improvement",
           "p_improvement ci95 low", "p_improvement ci95 high", "test", "statistic", "p_value",
           "comparisons", "p_floor", "p_floor_holm", "p_holm", "effect", "verdict"]


def compare(finals: pd.DataFrame, pairs: Sequence[tuple[str, str]],
            declared: Mapping[str, MetricKey], test: str = "mannwhitney",
            effects: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Each (A, B) of `pairs` on every declared metric of `finals` (columns config, label,
    metric, value; counted runs only) where both have MIN_SEEDS runs. diff = mean_B - mean_A;
    p_improvement = P(B better than A) in the metric's direction; Holm over the comparisons
    made on the metric; `effects`: metric (column) -> smallest difference that matters."""
    chosen = get_test(test)
    rows = []
    for metric, part in finals.groupby("metric", sort=False):
        found = declared.get(str(metric))
        if found is None:  # no direction (CPU time): nothing is better
            continue
        groups = {c: np.sort(g["value"].to_numpy(float)) for c, g in part.groupby("config")}
        labels = part.groupby("config")["label"].first()
        made = [(a, b) for a, b in pairs if len(groups.get(a, ())) >= MIN_SEEDS
                and len(groups.get(b, ())) >= MIN_SEEDS]
        effect = (effects or {}).get(str(metric))
        family = []
        for a, b in made:
            x, y = groups[a], groups[b]
            stat, p = chosen.run(x, y)
            low, high = intervals.difference_interval(y, x)
            p_imp, (p_low, p_high) = intervals.p_improvement(y, x, found.higher_is_better)
            floor = chosen.floor(len(x), len(y))
            family.append({
                "metric": metric, "config_a": a, "config_b": b, "label_a": labels[a],
                "label_b": labels[b], "n_a": len(x), "n_b": len(y), "mean_a": x.mean(),
                "mean_b": y.mean(), "diff": y.mean() - x.mean(), "diff ci95 low": low,
                "diff ci95 high": high, "p_improvement": p_imp, "p_improvement ci95 low": p_low,
                "p_improvement ci95 high": p_high, "test": test, "statistic": stat,
                "p_value": p, "comparisons": len(made), "p_floor": floor,
                "p_floor_holm": min(1.0, len(made) * floor),
                "effect": np.nan if effect is None else effect})
        for row, p_adj in zip(family, holm([r["p_value"] for r in family]), strict=True):
            row["p_holm"] = float(p_adj)
            row["verdict"] = verdict(row["p_holm"], row["p_improvement"], row["p_floor_holm"],
                                     row["diff ci95 high"] - row["diff ci95 low"], effect)
        rows.extend(family)
    return pd.DataFrame(rows, columns=COLUMNS)


def resolution_note(table: pd.DataFrame, test: str) -> str:
    """The smallest p the design can reach: per seed counts, raw and after Holm over the
    comparisons made on a metric ('' when the test has no floor)."""
    chosen = get_test(test)
    cells = sorted({(int(a), int(b), int(m)) for a, b, m in
                    zip(table["n_a"], table["n_b"], table["comparisons"], strict=True)})
    parts = []
    for n_a, n_b, m in cells:
        floor = chosen.floor(n_a, n_b)
        if floor > 0:
            after = min(1.0, m * floor)
            parts.append(f"{n_a} vs {n_b} seeds: {floor:.2g}, {after:.2g} after Holm over {m} "
                         f"comparison{'s' if m > 1 else ''}"
                         + (" (underpowered: above 0.05)" if after > ALPHA else ""))
    if not parts:
        return ""
    return "Smallest p this design can reach (exact test, no ties): " + "; ".join(parts) + "."


def few_seeds(frame: pd.DataFrame) -> list[str]:
    """Each config with fewer than STUDY_SEEDS counted runs, in words (configs frame: index
    config, columns label, n)."""
    return [f"{config} ({row['label']}) has {int(row['n'])} finished seed(s); a study config "
            f"has at least {STUDY_SEEDS} (the exact {STUDY_SEEDS} vs {STUDY_SEEDS} floor is "
            f"{_mannwhitney_floor(STUDY_SEEDS, STUDY_SEEDS):.2g})"
            for config, row in frame.iterrows() if int(row["n"]) < STUDY_SEEDS]


TESTS.register("mannwhitney", PairTest(
    "exact Mann-Whitney U, two-sided (scipy.stats.mannwhitneyu: method='exact', or the exact "
    "permutation distribution of U when seeds tie)", _mannwhitney, _mannwhitney_floor))
TESTS.register("welch", PairTest("Welch's t-test, two-sided (scipy.stats.ttest_ind, "
                                "equal_var=False)", _welch, _no_floor))
