"""The metric registry: a plain dict from name to `Metric`, filled through `register_metric`.

The built-in metrics are registered at the bottom of `evaluator.py`, with the same function a
plug-in would use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmark.evaluation.context import EvalContext

DATA_KINDS = ("image", "points")


@dataclass(frozen=True)
class Metric:
    """One metric: how to compute it from an evaluation context, and where it makes sense.

    `compute` takes the evaluator's per-call context (the model and the fixed inputs) and returns a
    flat dict of floats; `kinds` are the data kinds it accepts; `needs_labels` rejects it on
    unlabelled data (CelebA) before a run starts rather than after its first evaluation;
    `fid_features` says it works in the FID's feature space (`eval.fid_extractor`), whose
    weights the evaluator then resolves before training.
    """

    compute: Callable[[EvalContext], dict[str, float]]
    kinds: tuple[str, ...]
    needs_labels: bool = False
    fid_features: bool = False


METRICS: dict[str, Metric] = {}


def register_metric(name: str, metric: Metric) -> None:
    """Add a metric under `name`; names are unique, plain and used verbatim in configs."""
    if not isinstance(name, str) or not name or name.strip() != name or os.sep in name:
        raise ValueError(f"metric name must be a plain non-empty string, got {name!r}")
    if name in METRICS:
        raise ValueError(f"metric {name!r} is already registered")
    if not isinstance(metric, Metric) or not callable(metric.compute):
        raise ValueError(f"metric {name!r} must be a Metric with a callable compute")
    unknown = [k for k in metric.kinds if k not in DATA_KINDS]
    if not metric.kinds or unknown:
        raise ValueError(f"metric {name!r}: kinds {metric.kinds!r} must be among {DATA_KINDS}")
    METRICS[name] = metric


def uses_fid_features(metrics: list[str] | set[str]) -> bool:
    """Whether any of the (registered) metrics needs the FID's feature extractor."""
    return any(METRICS[name].fid_features for name in metrics if name in METRICS)


def metric_names() -> list[str]:
    """The valid values of `eval.metrics`, for the config layer's `choices`."""
    return sorted(METRICS)
