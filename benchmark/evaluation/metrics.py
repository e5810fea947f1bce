"""The built-in metrics, declared and registered with the same `METRICS.register` a plug-in uses.

Each names its compute (and step-0 baseline, and settings check) as `module:function`, imported
on first call: the report reads these declarations without importing torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from benchmark.evaluation.registry import METRICS, Baseline, Metric, MetricKey

_PACKAGE = "benchmark.evaluation"


def lazy(target: str) -> Callable[..., Any]:
    """The function `module:name` of this package, imported when first called."""
    module, name = target.split(":")

    def call(*args: Any) -> Any:
        return getattr(importlib.import_module(f"{_PACKAGE}.{module}"), name)(*args)

    call.__name__ = call.__qualname__ = name
    return call


# FID/KID/IS and prdc depend on the sample counts: they are in the column name.
SAMPLES = "{key} ({eval.fid_gen_count} gen / {eval.fid_real_count} real)"
RANDOM_ENCODER = "random-encoder baseline"
HELDOUT = Baseline("{key}_heldout", "held-out real images", floor=False)
# FID/KID/IS of images whose pixels are drawn independently from each pixel's training mean and
# std (`fidelity.pixel_gaussian`): a generator must beat it. Only the means are logged.
PIXEL_GAUSSIAN = Baseline("gaussian_{key}", "pixel-Gaussian baseline")
IS_SAMPLES = "{key} ({eval.fid_gen_count} gen)"


def spread_key(pattern: str, label: str) -> MetricKey:
    """KID's std over subsets and IS's over splits: the estimate's own spread, not a score. Its
    pattern is more specific than its mean's (`kid_*`), so it wins the match: no baseline (none
    is logged, and a spread has nothing to beat, not even the untrained model), no plot panel;
    smaller is a steadier estimate."""
    return MetricKey(pattern, higher_is_better=False, label=label, plotted=False, untrained=None)


METRICS.register("recon_mse", Metric(
    lazy("reconstruction:recon_mse"), kinds=("image", "points"), counts=("recon_count",),
    keys=(MetricKey("recon_mse", higher_is_better=False, best=True,
                    baseline=Baseline("recon_mse_mean_image", "mean-image baseline")),),
    baseline=lazy("reconstruction:recon_mse_baseline")))
METRICS.register("fid", Metric(
    lazy("fidelity:fid"), kinds=("image",), fid_features=True,
    counts=("fid_gen_count", "fid_real_count", "kid_subset_size", "classifier_train_count"),
    keys=(MetricKey("fid_*", higher_is_better=False, label=SAMPLES, baseline=PIXEL_GAUSSIAN),
          MetricKey("kid_*", higher_is_better=False, label=SAMPLES, baseline=PIXEL_GAUSSIAN),
          spread_key("kid_*_std", SAMPLES),
          MetricKey("is_*", higher_is_better=True, label=IS_SAMPLES, baseline=PIXEL_GAUSSIAN),
          spread_key("is_*_std", IS_SAMPLES)),
    baseline=lazy("fidelity:fid_baseline"), check=lazy("fidelity:check_kid_subset")))
METRICS.register("prdc", Metric(
    lazy("prdc:prdc"), kinds=("image",), fid_features=True,
    counts=("fid_gen_count", "fid_real_count", "classifier_train_count"),
    keys=tuple(MetricKey(f"{name}_*_k{k}", higher_is_better=True, baseline=HELDOUT,
                         label=SAMPLES)
               for name, k in (("precision", 3), ("recall", 3), ("density", 5),
                               ("coverage", 5))),
    check=lazy("prdc:check_sample_counts")))
METRICS.register("probe", Metric(
    lazy("probe:probe"), kinds=("image",), needs_labels=True, counts=("probe_test_count",),
    keys=(MetricKey("probe_acc", higher_is_better=True,
                    baseline=Baseline("probe_acc_random", RANDOM_ENCODER)),),
    baseline=lazy("probe:probe_random")))
METRICS.register("knn", Metric(
    lazy("probe:knn"), kinds=("image",), needs_labels=True,
    counts=("probe_test_count", "knn_train_count"),
    keys=(MetricKey("knn_acc", higher_is_better=True,
                    baseline=Baseline("knn_acc_random", RANDOM_ENCODER)),),
    baseline=lazy("probe:knn_random")))
METRICS.register("recon_acc", Metric(
    lazy("classifier:recon_acc"), kinds=("image",), needs_labels=True, uses_classifier=True,
    counts=("recon_count", "classifier_train_count"),
    keys=(MetricKey("recon_acc", higher_is_better=True,
                    baseline=Baseline("classifier_test_acc",
                                      "classifier's accuracy on real images", floor=False)),)))
METRICS.register("modes", Metric(
    lazy("modes:modes"), kinds=("points",), needs_modes=True,
    keys=(MetricKey("modes_covered", higher_is_better=True),
          MetricKey("high_quality_frac", higher_is_better=True))))
