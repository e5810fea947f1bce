"""95% intervals by the bootstrap, from scipy (`scipy.stats.bootstrap`), never by hand.

The style of Agarwal et al. 2021 (rliable): a percentile bootstrap over seeds, each config's
seeds resampled on their own (stratified), for the mean of a config, the difference of two
configs' means, and the probability of improvement P(X > Y), the Mann-Whitney U over
n_x * n_y. The percentile method is rliable's and never fails: BCa returns NaN when every
resample gives the same value (8 seeds of one config all above 8 of another).

Every interval is reproducible: a fixed seed, and each sample sorted first, so the interval is a
function of the values alone, whatever order a store lists the runs in (the report from
runs.parquet is byte for byte the one from MLflow). With few seeds a percentile interval is
about [min, max] and covers less than 95%: intervals need seeds too.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 9999
SEED = 0
METHOD = "percentile"
NOTE = (f"95% intervals: {METHOD} bootstrap over seeds (scipy.stats.bootstrap, {RESAMPLES} "
        f"resamples, seed {SEED}; each config's seeds resampled on their own); none for a "
        "config with fewer than 2 seeds. Few seeds give intervals that cover less than 95%.")

Interval = tuple[float, float]
NO_INTERVAL: Interval = (float("nan"), float("nan"))


def _sorted(values: np.ndarray | list[float]) -> np.ndarray:
    return np.sort(np.asarray(values, dtype=float))


def _bootstrap(samples: tuple[np.ndarray, ...], statistic) -> Interval:
    if min(len(s) for s in samples) < 2:
        return NO_INTERVAL
    result = stats.bootstrap(samples, statistic, confidence_level=CONFIDENCE,
                             n_resamples=RESAMPLES, method=METHOD, vectorized=True,
                             rng=np.random.default_rng(SEED))
    ci = result.confidence_interval
    return float(ci.low), float(ci.high)


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _difference(b: np.ndarray, a: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(b, axis=axis) - np.mean(a, axis=axis)


def _p_greater(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(X > Y) + P(X = Y) / 2: the Mann-Whitney U of x over n_x * n_y (rliable's definition)."""
    u = stats.mannwhitneyu(x, y, axis=axis, method="asymptotic").statistic
    return u / (x.shape[axis] * y.shape[axis])


def mean_interval(values: np.ndarray | list[float]) -> Interval:
    """The 95% interval of a config's mean over its seeds."""
    return _bootstrap((_sorted(values),), _mean)


def difference_interval(b: np.ndarray | list[float], a: np.ndarray | list[float]) -> Interval:
    """The 95% interval of mean(b) - mean(a), b and a resampled independently."""
    return _bootstrap((_sorted(b), _sorted(a)), _difference)


def p_improvement(b: np.ndarray | list[float], a: np.ndarray | list[float],
                  higher_is_better: bool) -> tuple[float, Interval]:
    """The probability that a run of b is better than a run of a (ties count half), and its
    95% interval: P(B > A) when higher is better, P(B < A) when lower is."""
    x, y = (_sorted(b), _sorted(a)) if higher_is_better else (_sorted(a), _sorted(b))
    point = float(_p_greater(x, y))
    return point, _bootstrap((x, y), _p_greater)
