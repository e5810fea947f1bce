"""Pairwise tests between configs on each final metric: by how much, and how surely.

Each pair of configs with at least two counted runs on a metric is tested with a named scipy
test (Mann-Whitney U two-sided by default, Welch's t-test on request). The table gives n per
side, both means, the difference, the p-value and the Holm-adjusted p-value over the pairs of
that metric. `resolution_note` says how small a p-value the test can reach at these n: with 3
seeds a side, the exact two-sided Mann-Whitney test can never go below 0.1.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.registry import Registry

MIN_SEEDS = 2  # a config with one run is shown in the summary but never tested


@dataclass(frozen=True)
class PairTest:
    """A two-sample test: `run(a, b) -> (statistic, p)`; `floor(n_a, n_b)` the smallest p
    its exact form can give (0 when there is no such floor)."""

    title: str
    run: Callable[[np.ndarray, np.ndarray], tuple[float, float]]
    floor: Callable[[int, int], float]


def _mannwhitney(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    result = stats.mannwhitneyu(a, b, alternative="two-sided")
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


COLUMNS = ["metric", "config_a", "config_b", "label_a", "label_b", "n_a", "n_b", "mean_a",
           "mean_b", "diff", "test", "statistic", "p_value", "p_holm"]


def compare(finals: pd.DataFrame, test: str = "mannwhitney",
            config_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Every pair of configs on every metric of `finals` (columns config, label, metric,
    value; counted runs only). diff = mean_b - mean_a."""
    chosen = get_test(test)
    rows = []
    for metric, part in finals.groupby("metric", sort=False):
        groups = {c: g["value"].to_numpy(float) for c, g in part.groupby("config")}
        labels = part.groupby("config")["label"].first()
        order = [c for c in (config_order or sorted(groups)) if c in groups]
        tested = [c for c in order if len(groups[c]) >= MIN_SEEDS]
        pairs = []
        for a, b in itertools.combinations(tested, 2):
            stat, p = chosen.run(groups[a], groups[b])
            n_a, n_b = len(groups[a]), len(groups[b])
            pairs.append({
                "metric": metric, "config_a": a, "config_b": b, "label_a": labels[a],
                "label_b": labels[b], "n_a": n_a, "n_b": n_b, "mean_a": groups[a].mean(),
                "mean_b": groups[b].mean(), "diff": groups[b].mean() - groups[a].mean(),
                "test": test, "statistic": stat, "p_value": p})
        for pair, p_adj in zip(pairs, holm([r["p_value"] for r in pairs]), strict=True):
            pair["p_holm"] = float(p_adj)
        rows.extend(pairs)
    return pd.DataFrame(rows, columns=COLUMNS)


def resolution_note(table: pd.DataFrame, test: str) -> str:
    """How small a p-value the test can reach at the table's sample sizes ('' if no floor)."""
    chosen = get_test(test)
    sizes = sorted({(int(a), int(b)) for a, b in zip(table["n_a"], table["n_b"], strict=True)})
    floors = [(a, b, chosen.floor(a, b)) for a, b in sizes]
    floors = [f"{a} vs {b} seeds: {f:.3g}" for a, b, f in floors if f > 0]
    if not floors:
        return ""
    return ("Smallest p-value the exact test can give (no ties; with ties scipy uses the "
            "normal approximation): " + "; ".join(floors) + ".")


TESTS.register("mannwhitney", PairTest("Mann-Whitney U, two-sided (scipy.stats.mannwhitneyu)",
                                      _mannwhitney, _mannwhitney_floor))
TESTS.register("welch", PairTest("Welch's t-test, two-sided (scipy.stats.ttest_ind, "
                                "equal_var=False)", _welch, _no_floor))
