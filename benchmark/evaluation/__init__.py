"""Evaluation of ALI runs: reconstruction, FID/KID/IS, precision/recall/density/coverage, linear
probe, 1-NN, reconstruction accuracy, mode coverage, panels.

Layers, each importing only those above it in this list:
- `declarations.py`: what a metric is (`Metric`, `MetricKey`, `Baseline`) and the `METRICS`
  registry; `extractors.py`: the feature spaces. No torch.
- `settings.py`: `EvalConfig` and its checks. No torch.
- `context.py`, `classifier.py`, `features.py`: the instruments (fixed inputs, the context a
  metric computes from, the dataset's classifier, torch-fidelity).
- one module per metric family, each holding its keys, computation, baseline and registration:
  `reconstruction.py`, `fidelity.py`, `prdc.py`, `probe.py`, `recon_acc.py`, `modes.py`. They
  import torch only inside the functions that compute, so importing this package (the report
  does) registers every declaration without loading torch.
- `evaluator.py` (`Evaluator`), `panels.py`: a run's evaluation.
"""

from __future__ import annotations

from benchmark.evaluation import (  # noqa: F401  (each module registers its metrics)
    fidelity,
    modes,
    prdc,
    probe,
    recon_acc,
    reconstruction,
)
from benchmark.evaluation.declarations import METRICS, Baseline, Metric, MetricKey
from benchmark.evaluation.settings import EvalConfig, validate_eval_config

__all__ = ["METRICS", "Baseline", "EvalConfig", "Metric", "MetricKey", "validate_eval_config"]
