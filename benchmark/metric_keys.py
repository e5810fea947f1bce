"""What each metric key a run logs means: which way is better, and the baseline it must beat.

One table, read by the report's tables, figures and page alike, so that a metric and its trivial
baseline can never be paired differently in two places. The keys are the ones
`benchmark.evaluation` logs (tests/reporting/test_report_baselines.py checks them against its
`KEY_*` constants); this module imports nothing heavy so the report does not load torch.
The metrics of averaged parameters (`avg_<kind>.<key>`) share the declaration of `<key>`.
"""

from __future__ import annotations

from dataclasses import dataclass

AVERAGED_PREFIX = "avg_"  # avg_<kind>.<key>: the metric of averaged parameters


@dataclass(frozen=True)
class Baseline:
    """A number logged at step 0 beside a metric.

    `floor`: what a trivial model scores (mean image, random encoder); a run that does not beat it
    learned nothing this metric can see. Otherwise a ceiling: the best the instrument can give
    (the classifier's accuracy on real images bounds recon_acc), shown beside, never "beaten".
    """

    key: str
    name: str  # in words, as the page says it: "the mean-image baseline"
    floor: bool = True


@dataclass(frozen=True)
class MetricKey:
    """A logged key (or a family of keys when `prefix`, e.g. fid_<extractor>)."""

    key: str
    higher_is_better: bool
    baseline: Baseline | None = None
    prefix: bool = False

    def beats(self, value: float, baseline: float) -> bool:
        """Whether `value` is strictly better than `baseline` in this metric's direction."""
        return value > baseline if self.higher_is_better else value < baseline


RANDOM_ENCODER = "random-encoder baseline"

METRIC_KEYS: tuple[MetricKey, ...] = (
    MetricKey("recon_mse", False, Baseline("recon_mse_mean_image", "mean-image baseline")),
    MetricKey("probe_acc", True, Baseline("probe_acc_random", RANDOM_ENCODER)),
    MetricKey("knn_acc", True, Baseline("knn_acc_random", RANDOM_ENCODER)),
    MetricKey("recon_acc", True, Baseline("classifier_test_acc",
                                          "classifier's accuracy on real images", floor=False)),
    MetricKey("modes_covered", True),
    MetricKey("high_quality_frac", True),
    MetricKey("fid_", False, prefix=True),
    MetricKey("kid_", False, prefix=True),
    MetricKey("is_", True, prefix=True),
)


def base_key(key: str) -> str:
    """The key without the `avg_<kind>.` prefix of averaged parameters."""
    return key.split(".", 1)[1] if key.startswith(AVERAGED_PREFIX) and "." in key else key


def declared(key: str) -> MetricKey | None:
    """The declaration of a logged key (averaged or not); None for keys that are no metric of
    the model (losses, times, the baselines themselves)."""
    base = base_key(key)
    for metric in METRIC_KEYS:
        if base == metric.key or (metric.prefix and base.startswith(metric.key)):
            return metric
    return None


def baseline_keys() -> list[str]:
    """Every baseline key, in the table's order."""
    return [m.baseline.key for m in METRIC_KEYS if m.baseline is not None]
