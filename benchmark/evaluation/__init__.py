"""Evaluation of ALI runs: reconstruction, FID/KID/IS, linear probe, 1-NN, mode coverage, panels.

One metric per module, each registered by name in `METRICS`; `Evaluator` computes the configured
ones on inputs fixed across runs. Result keys are the `KEY_*` constants, values plain floats.
"""

from benchmark.evaluation import builtin_metrics as _builtin_metrics  # noqa: F401  (registers)
from benchmark.evaluation.baselines import (
    KEY_CLASSIFIER_TEST_ACC,
    KEY_KNN_ACC_RANDOM,
    KEY_PROBE_ACC_RANDOM,
)
from benchmark.evaluation.evaluator import (
    PANEL_GENERATION,
    PANEL_INTERPOLATION,
    PANEL_RECONSTRUCTION,
    PANEL_SAMPLES,
    Evaluator,
)
from benchmark.evaluation.feature_extractors import (
    FEATURE_EXTRACTORS,
    FeatureExtractor,
    register_feature_extractor,
)
from benchmark.evaluation.fidelity import result_keys as fidelity_result_keys
from benchmark.evaluation.knn import KEY_KNN_ACC
from benchmark.evaluation.modes import KEY_HIGH_QUALITY_FRAC, KEY_MODES_COVERED
from benchmark.evaluation.probe import KEY_PROBE_ACC, KEY_PROBE_ACC_STD
from benchmark.evaluation.recon_acc import KEY_RECON_ACC
from benchmark.evaluation.reconstruction import (
    KEY_RECON_MSE,
    KEY_RECON_MSE_MEAN,
    KEY_RECON_MSE_MEAN_IMAGE,
)
from benchmark.evaluation.registry import METRICS, Metric, register_metric
from benchmark.evaluation.settings import EvalConfig
from benchmark.evaluation.validation import validate_eval_config

__all__ = [
    "FEATURE_EXTRACTORS",
    "KEY_CLASSIFIER_TEST_ACC",
    "KEY_HIGH_QUALITY_FRAC",
    "KEY_KNN_ACC",
    "KEY_KNN_ACC_RANDOM",
    "KEY_MODES_COVERED",
    "KEY_PROBE_ACC",
    "KEY_PROBE_ACC_RANDOM",
    "KEY_PROBE_ACC_STD",
    "KEY_RECON_ACC",
    "KEY_RECON_MSE",
    "KEY_RECON_MSE_MEAN",
    "KEY_RECON_MSE_MEAN_IMAGE",
    "METRICS",
    "PANEL_GENERATION",
    "PANEL_INTERPOLATION",
    "PANEL_RECONSTRUCTION",
    "PANEL_SAMPLES",
    "EvalConfig",
    "Evaluator",
    "FeatureExtractor",
    "Metric",
    "fidelity_result_keys",
    "register_feature_extractor",
    "register_metric",
    "validate_eval_config",
]
