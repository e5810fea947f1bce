"""The metric and feature-extractor registries: plain dicts behind validating register functions."""

from __future__ import annotations

import pytest

from benchmark.errors import ConfigError
from benchmark.evaluation import (
    FEATURE_EXTRACTORS,
    METRICS,
    FeatureExtractor,
    Metric,
    register_feature_extractor,
    register_metric,
)
from benchmark.evaluation.feature_extractors import get_feature_extractor


def _metric() -> Metric:
    return Metric(lambda ctx: {"x": 1.0}, kinds=("image",))


@pytest.mark.parametrize(("name", "metric", "message"), [
    ("recon_mse", _metric(), "already registered"),
    (" padded", _metric(), "plain non-empty string"),
    ("a/b", _metric(), "plain non-empty string"),
    ("new_metric", lambda ctx: {}, "must be a Metric"),
    ("new_metric", Metric(lambda ctx: {}, kinds=("audio",)), "kinds"),
])
def test_register_metric_rejects(name, metric, message):
    with pytest.raises(ValueError, match=message):
        register_metric(name, metric)
    assert "new_metric" not in METRICS


def test_a_registered_metric_is_listed_and_can_be_removed_again():
    register_metric("constant_one", _metric())
    try:
        assert METRICS["constant_one"].compute(None) == {"x": 1.0}
    finally:
        del METRICS["constant_one"]


def test_feature_extractor_registry():
    with pytest.raises(ValueError, match="already registered"):
        register_feature_extractor("classifier", FEATURE_EXTRACTORS["classifier"])
    with pytest.raises(ValueError, match="must be a FeatureExtractor"):
        register_feature_extractor("other", object())
    with pytest.raises(ConfigError, match="choose from: classifier, inception-v3-compat"):
        get_feature_extractor("clip")
    assert isinstance(get_feature_extractor("classifier"), FeatureExtractor)
