"""Reject impossible evaluation settings before a run starts, each with one line naming the fix."""

from __future__ import annotations

from benchmark.errors import ConfigError
from benchmark.evaluation.feature_extractors import FEATURE_EXTRACTORS, get_feature_extractor
from benchmark.evaluation.prdc import DENSITY_COVERAGE_K
from benchmark.evaluation.registry import METRICS, metric_names, uses_fid_features
from benchmark.evaluation.settings import EvalConfig


def validate_eval_config(cfg: EvalConfig, data_kind: str, labelled: bool = True) -> None:
    """Metric names, metric vs data kind (no FID on points, no modes on images), labels, KID size.

    `labelled` is False for data without classes (CelebA): label-based metrics are refused.
    """
    for name in cfg.metrics:
        if name not in METRICS:
            raise ConfigError(f"eval.metrics: unknown value {name!r}; choose from: "
                              f"{', '.join(metric_names())}")
    if len(set(cfg.metrics)) != len(cfg.metrics):
        raise ConfigError(f"eval.metrics: {cfg.metrics!r} names a metric twice")
    valid = [n for n in metric_names() if data_kind in METRICS[n].kinds
             and (labelled or not METRICS[n].needs_labels)]
    for name in cfg.metrics:
        if data_kind not in METRICS[name].kinds:
            raise ConfigError(f"eval.metrics: {name!r} does not apply to {data_kind} data; "
                              f"choose from: {', '.join(valid)}")
        if not labelled and METRICS[name].needs_labels:
            raise ConfigError(f"eval.metrics: {name!r} needs class labels, which this dataset "
                              f"lacks; choose from: {', '.join(valid)}")
    if uses_fid_features(cfg.metrics):
        extractor = get_feature_extractor(cfg.fid_extractor)
        if not labelled and extractor.needs_labels:
            free = sorted(n for n, e in FEATURE_EXTRACTORS.items() if not e.needs_labels)
            raise ConfigError(f"eval.fid_extractor: {cfg.fid_extractor!r} is trained on class "
                              f"labels, which this dataset lacks; choose from: {', '.join(free)}")
    smallest = min(cfg.fid_gen_count, cfg.fid_real_count)
    if "prdc" in cfg.metrics and smallest <= DENSITY_COVERAGE_K:
        field = "fid_gen_count" if cfg.fid_gen_count == smallest else "fid_real_count"
        raise ConfigError(f"eval.{field}: {smallest} is too few for prdc's {DENSITY_COVERAGE_K} "
                          f"nearest neighbours; choose at least {DENSITY_COVERAGE_K + 1}")
    if "fid" in cfg.metrics and cfg.kid_subset_size > smallest:
        raise ConfigError(f"eval.kid_subset_size: {cfg.kid_subset_size} exceeds the smaller "
                          f"FID sample count {smallest}; choose from: 2..{smallest}")
