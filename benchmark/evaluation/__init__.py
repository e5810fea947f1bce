"""Evaluation of ALI runs: reconstruction, FID/KID/IS, precision/recall/density/coverage, linear
probe, 1-NN, mode coverage, panels.

Each metric is an entry of `METRICS` (`registry.py`) that declares its keys and how the report
shows them; the built-ins are declared in `metrics.py`. `Evaluator` computes the configured ones
on inputs fixed across runs. The declarations import no torch (the report reads them); the rest
of this package's names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from benchmark.evaluation import metrics as _metrics  # noqa: F401  (registers the built-ins)
from benchmark.evaluation.registry import METRICS, Baseline, Metric, MetricKey

_LAZY = {
    "EvalConfig": "settings",
    "validate_eval_config": "settings",
    "Evaluator": "evaluator",
    "EvalContext": "context",
    "FEATURE_EXTRACTORS": "fidelity",
    "FeatureExtractor": "fidelity",
}

__all__ = ["METRICS", "Baseline", "Metric", "MetricKey", *_LAZY]


def __getattr__(name: str) -> Any:
    """The torch-side names, imported on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
