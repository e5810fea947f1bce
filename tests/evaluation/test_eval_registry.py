"""The metric and feature-extractor registries (one `Registry` type), and the metrics' declarations:
every key a built-in metric returns is declared, so none reaches MLflow without the report."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmark.errors import ConfigError
from benchmark.evaluation import METRICS, Baseline, Metric, MetricKey
from benchmark.evaluation.declarations import declared, summary_keys
from benchmark.evaluation.extractors import FEATURE_EXTRACTORS, FeatureExtractor
from benchmark.evaluation.fidelity import result_keys as fidelity_keys
from benchmark.evaluation.prdc import HELDOUT_SUFFIX
from benchmark.evaluation.prdc import result_keys as prdc_keys


def _metric(**keys) -> Metric:
    return Metric(lambda ctx: {"x": 1.0}, kinds=("image",),
                  **({"keys": (MetricKey("x", True),)} | keys))


@pytest.mark.parametrize(("name", "metric", "error", "message"), [
    ("recon_mse", _metric(), ValueError, "already registered"),
    (" padded", _metric(), ValueError, "without spaces"),
    ("a/b", _metric(), ValueError, "without spaces"),
    ("new_metric", lambda ctx: {}, TypeError, "must be a Metric"),
    ("new_metric", Metric(lambda ctx: {}, kinds=("audio",), keys=(MetricKey("x", True),)),
     ValueError, "kinds"),
    ("new_metric", _metric(keys=()), ValueError, "at least one MetricKey"),
])
def test_register_metric_rejects(name, metric, error, message):
    with pytest.raises(error, match=message):
        METRICS.register(name, metric)
    assert "new_metric" not in METRICS


def test_a_registered_metric_is_listed_and_can_be_removed_again():
    METRICS.register("constant_one", _metric())
    try:
        assert METRICS.get("constant_one").compute(None) == {"x": 1.0}
        assert "constant_one" in METRICS.names()
    finally:
        METRICS.unregister("constant_one")
    with pytest.raises(ConfigError, match=r"^eval.metrics: unknown value 'constant_one'; "
                                          r"choose from: fid, knn, modes, prdc, probe, "):
        METRICS.get("constant_one")


def test_feature_extractor_registry():
    with pytest.raises(ValueError, match="already registered"):
        FEATURE_EXTRACTORS.register("classifier", FEATURE_EXTRACTORS["classifier"])
    with pytest.raises(TypeError, match="must be a FeatureExtractor"):
        FEATURE_EXTRACTORS.register("other", object())
    with pytest.raises(ConfigError, match="^eval.fid_extractor: unknown value 'clip'; choose "
                                          "from: classifier, inception-v3-compat$"):
        FEATURE_EXTRACTORS.get("clip")
    assert isinstance(FEATURE_EXTRACTORS.get("classifier"), FeatureExtractor)


@pytest.mark.parametrize("key", [
    "recon_mse", "probe_acc", "knn_acc", "recon_acc", "modes_covered", "high_quality_frac",
    *fidelity_keys("classifier"), *fidelity_keys("inception"), *prdc_keys("classifier"),
])
def test_every_key_the_built_in_metrics_return_is_declared(key):
    assert declared(key) is not None
    assert declared(f"avg_ema.{key}") == declared(key)


def test_declarations_resolve_their_baseline_per_key():
    assert declared("recon_mse").baseline.key == "recon_mse_mean_image"
    assert declared("recon_acc").baseline.floor is False  # a ceiling: shown, never flagged
    for key in prdc_keys("inception"):
        found = declared(f"avg_uniform.{key}")
        assert found.baseline.key == key + HELDOUT_SUFFIX and not found.baseline.floor
    assert declared("recon_mse_mean_image") is None  # a baseline, not a metric
    assert declared("precision_classifier_k3_heldout") is None
    assert declared("fid_classifier").higher_is_better is False


def test_a_spread_is_not_a_score_and_has_no_baseline():
    """KID's and IS's std (over subsets, over splits) match their mean's pattern too: the more
    specific declaration wins, so the report never sets a spread against a pixel-Gaussian
    baseline that is not logged, nor draws it as a score."""
    for extractor in ("classifier", "inception"):
        for mean in (f"kid_{extractor}", f"is_{extractor}"):
            spread = declared(f"avg_ema.{mean}_std")
            assert spread.key.endswith("_std") and spread.baseline is None, spread
            assert spread.plotted is False and spread.higher_is_better is False
            assert declared(mean).baseline.key == f"gaussian_{mean}"
    METRICS.register("plugin_metric", Metric(
        lambda ctx: {}, kinds=("image",),
        keys=(MetricKey("plugin_*", True), MetricKey("plugin_*_exact", False))))
    try:  # declaration order does not decide: the specific key is declared second here
        assert declared("plugin_a_exact").key == "plugin_*_exact"
        assert declared("plugin_a").key == "plugin_*"
    finally:
        METRICS.unregister("plugin_metric")


def test_a_label_names_the_settings_from_the_params():
    found = declared("precision_classifier_k3")
    params = {"eval.fid_gen_count": "1000", "eval.fid_real_count": "500"}
    assert found.column("precision_classifier_k3", params) == (
        "precision_classifier_k3 (1000 gen / 500 real)")
    assert found.column("precision_classifier_k3", {}) == "precision_classifier_k3 (? gen / ? real)"
    recon = declared("recon_mse")
    assert recon.column("recon_mse", {}) == "recon_mse (final)"
    assert recon.best_column("recon_mse", {}) == "recon_mse (best)"
    assert recon.column("avg_ema.recon_mse", {}) == "avg_ema.recon_mse"
    assert MetricKey("k", True, Baseline("{key}_b", "b")).resolved("avg_ema.k").baseline.key == "k_b"


def test_the_declarations_load_without_torch():
    """The report reads them; torch takes seconds to import and the report needs none of it."""
    probe = ("import sys\nfrom benchmark.evaluation.declarations import declared\n"
             "assert declared('fid_classifier') is not None\n"
             "print(sorted(m for m in ('torch', 'torch_fidelity') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_summary_keys_are_the_declared_live_metrics_in_report_order():
    """The run's summary line and the MLflow comparison view show every declared metric,
    a plug-in's too, and no baseline, loss, time or averaged copy."""
    logged = ["loss_d", "knn_acc", "recon_mse_mean_image", "avg_ema.recon_mse", "recon_mse",
              "fid_classifier", "cpu_time_s", "knn_acc_random", "plugin_score"]
    assert summary_keys(logged) == ["recon_mse", "fid_classifier", "knn_acc"]
    METRICS.register("plugin_metric", Metric(
        lambda ctx: {}, kinds=("image",),
        keys=(MetricKey("plugin_score", higher_is_better=True),)))
    try:
        assert summary_keys(logged)[-1] == "plugin_score"
    finally:
        METRICS.unregister("plugin_metric")
