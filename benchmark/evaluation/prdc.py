"""Improved precision and recall (Kynkäänniemi et al. 2019, k = 3) and density and coverage
(Naeem et al. 2020, k = 5), in the feature space of the FID (the configured extractor's FID layer).

- precision: share of generated samples inside the k-NN ball of some real sample (fidelity);
- recall: share of real samples inside the k-NN ball of some generated sample (diversity);
- density: real k-NN balls containing each generated sample, averaged and divided by k (about 1
  when both sets come from one distribution; unbounded above);
- coverage: share of real samples whose k-NN ball contains some generated sample.

Precision and recall come from torch-fidelity (0.4.0's `prc_features_to_metric`, which treats its
first input as generated and its second as real: its issue #58 reported the two swapped, so
tests/evaluation/test_eval_prdc.py checks the direction on a case whose answer is known). Density
and coverage follow the authors' reference code (github.com/clovaai/generative-evaluation-prdc),
strict `<` against the k-th neighbour distance excluding the sample itself.

The baseline: the same four numbers with held-out real test images (disjoint from the FID's real
set) in place of the generated ones, i.e. what a perfect generator would score at these sample
sizes. It is logged beside the metric with the suffix `_heldout`.

This module loads without torch (the report reads its declarations); torch and torch-fidelity
load when a number is computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchmark.errors import ConfigError
from benchmark.evaluation.declarations import METRICS, Baseline, Metric, MetricKey
from benchmark.evaluation.extractors import FEATURE_EXTRACTORS, FeatureExtractor
from benchmark.evaluation.fidelity import SAMPLES

if TYPE_CHECKING:
    import torch

    from benchmark.evaluation.context import EvalContext
    from benchmark.evaluation.settings import EvalConfig

PRECISION_RECALL_K = 3  # Kynkäänniemi et al. 2019
DENSITY_COVERAGE_K = 5  # Naeem et al. 2020
HELDOUT_SUFFIX = "_heldout"
HELDOUT = Baseline("{key}" + HELDOUT_SUFFIX, "held-out real images", floor=False)


def result_keys(extractor_key: str) -> list[str]:
    """The keys `prdc_metrics` returns, the settings in the names: precision_classifier_k3, ..."""
    pr = [f"{name}_{extractor_key}_k{PRECISION_RECALL_K}" for name in ("precision", "recall")]
    dc = [f"{name}_{extractor_key}_k{DENSITY_COVERAGE_K}" for name in ("density", "coverage")]
    return pr + dc


def precision_recall(generated: torch.Tensor, real: torch.Tensor,
                     k: int = PRECISION_RECALL_K) -> tuple[float, float]:
    """torch-fidelity's improved precision and recall of generated vs real features (N, D)."""
    from torch_fidelity.metric_prc import (
        KEY_METRIC_PRECISION,
        KEY_METRIC_RECALL,
        prc_features_to_metric,
    )

    out = prc_features_to_metric(generated, real, prc_neighborhood=k, prc_batch_size=10000,
                                 save_cpu_ram=True, verbose=False)
    return float(out[KEY_METRIC_PRECISION]), float(out[KEY_METRIC_RECALL])


def density_coverage(generated: torch.Tensor, real: torch.Tensor,
                     k: int = DENSITY_COVERAGE_K) -> tuple[float, float]:
    """Naeem et al.'s density and coverage of generated vs real features (N, D)."""
    import torch  # only when computing: the declarations below load without it

    if len(real) <= k:
        raise ValueError(f"density and coverage need more than k={k} real samples, got {len(real)}")
    # The k-th nearest other real sample: the (k+1)-th smallest distance, the first being 0.
    radii = torch.cdist(real, real).kthvalue(k + 1, dim=1).values  # (R,)
    inside = torch.cdist(real, generated) < radii[:, None]  # (R, G)
    density = inside.sum().item() / (k * len(generated))
    coverage = inside.any(dim=1).double().mean().item()
    return float(density), float(coverage)


def prdc_from_features(generated: torch.Tensor, real: torch.Tensor,
                       extractor_key: str) -> dict[str, float]:
    """All four metrics from features, under the names `result_keys` gives."""
    values = (*precision_recall(generated, real), *density_coverage(generated, real))
    return dict(zip(result_keys(extractor_key), values, strict=True))


# Real features and the held-out baseline depend only on the images, the extractor and its
# weights, identical at every evaluation of a run: computed once per process.
_CACHE: dict[str, tuple[Any, dict[str, float]]] = {}  # key -> (real features, baseline)


def heldout_indices(n_test: int, real: torch.Tensor, count: int) -> torch.Tensor | None:
    """Fixed test indices outside `real`, at most `count` (None: too few for the k-NN)."""
    import torch

    from benchmark.evaluation.context import FIXED_SEED, purpose_generator

    free = torch.ones(n_test, dtype=torch.bool)
    free[real] = False
    rest = free.nonzero().flatten()
    if len(rest) <= DENSITY_COVERAGE_K:
        return None
    order = torch.randperm(len(rest), generator=purpose_generator(FIXED_SEED, "prdc_heldout"))
    return rest[order[:count]]


def prdc_metrics(generated: torch.Tensor, test_x: torch.Tensor, real_idx: torch.Tensor,
                 extractor: FeatureExtractor, weights_path: str | None, batch_size: int = 200,
                 cuda: bool = False) -> dict[str, float]:
    """The four metrics of `generated` against the test images at `real_idx` (the FID's real
    set), and their held-out baseline (`_heldout`) when the test split has images to spare."""
    import hashlib

    from benchmark.evaluation.features import extract_features  # torch-fidelity: seconds

    real = test_x[real_idx]
    heldout_idx = heldout_indices(len(test_x), real_idx, len(generated))
    digest = hashlib.sha256(real.cpu().contiguous().numpy().tobytes())
    if heldout_idx is not None:
        digest.update(test_x[heldout_idx].cpu().contiguous().numpy().tobytes())
    key = f"{extractor.torch_fidelity_name}|{weights_path}|{len(generated)}|{digest.hexdigest()}"
    if key not in _CACHE:
        real_features = extract_features(real, extractor, weights_path, batch_size, cuda)
        baseline = {}
        if heldout_idx is not None:
            heldout = extract_features(test_x[heldout_idx], extractor, weights_path,
                                       batch_size, cuda)
            baseline = {k + HELDOUT_SUFFIX: v for k, v in
                        prdc_from_features(heldout, real_features, extractor.key).items()}
        if len(_CACHE) >= 4:
            _CACHE.clear()
        _CACHE[key] = (real_features, baseline)
    real_features, baseline = _CACHE[key]
    features = extract_features(generated, extractor, weights_path, batch_size, cuda)
    return {**prdc_from_features(features, real_features, extractor.key), **baseline}


def prdc(ctx: EvalContext) -> dict[str, float]:
    """The `prdc` metric: decoded fixed latents against the FID's real images."""
    cfg, inputs = ctx.settings, ctx.inputs
    return prdc_metrics(ctx.decoded(cfg.fid_gen_count, "fid_z"), inputs.data.test.x,
                        inputs.fid_real, FEATURE_EXTRACTORS.get(cfg.fid_extractor),
                        ctx.fid_weights(), cfg.batch_size, ctx.device.type == "cuda")


def check_sample_counts(cfg: EvalConfig) -> None:
    """Density and coverage need more samples on each side than their k neighbours."""
    smallest = min(cfg.fid_gen_count, cfg.fid_real_count)
    if smallest <= DENSITY_COVERAGE_K:
        field = "fid_gen_count" if cfg.fid_gen_count == smallest else "fid_real_count"
        raise ConfigError(f"eval.{field}: {smallest} is too few for prdc's {DENSITY_COVERAGE_K} "
                          f"nearest neighbours; choose at least {DENSITY_COVERAGE_K + 1}")


METRICS.register("prdc", Metric(
    prdc, kinds=("image",), fid_features=True,
    counts=("fid_gen_count", "fid_real_count", "classifier_train_count"),
    keys=tuple(MetricKey(f"{name}_*_k{k}", higher_is_better=True, baseline=HELDOUT,
                         label=SAMPLES)
               for name, k in (("precision", PRECISION_RECALL_K), ("recall", PRECISION_RECALL_K),
                               ("density", DENSITY_COVERAGE_K),
                               ("coverage", DENSITY_COVERAGE_K))),
    check=check_sample_counts))
