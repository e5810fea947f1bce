"""FID, KID and IS through torch-fidelity's `calculate_metrics`, in the feature space
`eval.fid_extractor` names (`extractors.py`), with the pixel-Gaussian baseline.

The generated images are decoded from the same fixed latents at every evaluation of every run, and
the real ones are the same test images, so differences between numbers come from the weights.
Images become uint8 RGB only at torch-fidelity's boundary (`features.UInt8Images`).

This module loads without torch (the report reads its declarations); torch and torch-fidelity,
seconds to import, load when a number is computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.errors import ConfigError
from benchmark.evaluation.declarations import METRICS, Baseline, Metric, MetricKey
from benchmark.evaluation.extractors import FEATURE_EXTRACTORS, FeatureExtractor

if TYPE_CHECKING:
    import torch

    from benchmark.evaluation.context import EvalContext
    from benchmark.evaluation.settings import EvalConfig

# The sample counts are in the column name: FIDs of other sample sizes never share a column.
SAMPLES = "{key} ({eval.fid_gen_count} gen / {eval.fid_real_count} real)"
IS_SAMPLES = "{key} ({eval.fid_gen_count} gen)"
# FID/KID/IS of images whose pixels are drawn independently from each pixel's training mean and
# std (`pixel_gaussian`): a generator must beat it. Only the means are logged.
PIXEL_GAUSSIAN = Baseline("gaussian_{key}", "pixel-Gaussian baseline")

# torch-fidelity's result keys (by their constants' names, as torch-fidelity is imported only to
# compute) -> ours without the extractor suffix; ours are `<name>_<key>` followed by `_std` where
# torch-fidelity reports a spread.
_RENAME = {
    "KEY_METRIC_FID": ("fid", ""),
    "KEY_METRIC_KID_MEAN": ("kid", ""),
    "KEY_METRIC_KID_STD": ("kid", "_std"),
    "KEY_METRIC_ISC_MEAN": ("is", ""),
    "KEY_METRIC_ISC_STD": ("is", "_std"),
}


def result_keys(extractor_key: str) -> list[str]:
    """The keys `fidelity_metrics` returns for an extractor, e.g. fid_classifier, kid_..._std."""
    return [f"{name}_{extractor_key}{suffix}" for name, suffix in _RENAME.values()]


def fidelity_metrics(generated: torch.Tensor, real: torch.Tensor, extractor: FeatureExtractor,
                     weights_path: str | None, kid_subset_size: int, batch_size: int = 200,
                     cuda: bool = False) -> dict[str, float]:
    """FID, KID (mean, std) and IS (mean, std) of generated vs real images (N, C, H, W).

    `weights_path` goes to torch-fidelity as `feature_extractor_weights_path`. Its disk cache is
    off: our inputs change with every evaluation and the real features are cheap to recompute.
    """
    import torch_fidelity  # seconds to import: only here, when metrics are computed

    from benchmark.evaluation.features import UInt8Images

    raw = torch_fidelity.calculate_metrics(
        input1=UInt8Images(generated), input2=UInt8Images(real),
        fid=True, kid=True, isc=True,
        feature_extractor=extractor.torch_fidelity_name,
        feature_extractor_weights_path=weights_path,
        kid_subset_size=kid_subset_size, batch_size=min(batch_size, extractor.max_batch),
        cuda=cuda, save_cpu_ram=True, cache=False, verbose=False,
    )
    return {f"{name}_{extractor.key}{suffix}": float(raw[getattr(torch_fidelity, constant)])
            for constant, (name, suffix) in _RENAME.items()}


def against_fixed_real(ctx: EvalContext, generated: torch.Tensor) -> dict[str, float]:
    """FID, KID and IS of `generated` against the fixed test images, in the run's feature space
    and settings: what the metric and its baseline both score."""
    cfg = ctx.settings
    real = ctx.inputs.data.test.x[ctx.inputs.fid_real]
    return fidelity_metrics(generated, real, FEATURE_EXTRACTORS.get(cfg.fid_extractor),
                            ctx.fid_weights(), cfg.kid_subset_size, cfg.batch_size,
                            cuda=ctx.device.type == "cuda")


def fid(ctx: EvalContext) -> dict[str, float]:
    """The `fid` metric: FID, KID and IS of decoded fixed latents against the fixed test images."""
    return against_fixed_real(ctx, ctx.decoded(ctx.settings.fid_gen_count, "fid_z"))


def pixel_gaussian(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` images whose pixels are independent normals with each pixel's training mean and
    standard deviation, clipped to [0, 1]: a generator that knows the data's first two moments
    per pixel and nothing of its structure, so a trained generator must score better."""
    import torch  # only when computing: the declarations below load without it

    from benchmark.evaluation.context import mean_input

    mean = mean_input(train_x)
    std = (mean_input(train_x, power=2) - mean.square()).clamp_(min=0.0).sqrt_()
    noise = torch.randn((count, *train_x.shape[1:]), generator=generator, dtype=torch.float64)
    return (mean + std * noise).clamp_(0.0, 1.0).float()


def fid_baseline(ctx: EvalContext) -> dict[str, float]:
    """The `fid` metric's baseline: FID, KID and IS of `fid_gen_count` pixel-Gaussian images
    (`pixel_gaussian`, fixed draws) against the same real images the metric uses."""
    from benchmark.evaluation.context import FIXED_SEED, purpose_generator

    generated = pixel_gaussian(ctx.inputs.data.train.x, ctx.settings.fid_gen_count,
                               purpose_generator(FIXED_SEED, "fid_gaussian"))
    scores = against_fixed_real(ctx, generated)
    return {PIXEL_GAUSSIAN.key_for(key): value for key, value in scores.items()
            if not key.endswith("_std")}


def check_kid_subset(cfg: EvalConfig) -> None:
    """KID draws subsets of `kid_subset_size` from both sample sets."""
    smallest = min(cfg.fid_gen_count, cfg.fid_real_count)
    if cfg.kid_subset_size > smallest:
        raise ConfigError(f"eval.kid_subset_size: {cfg.kid_subset_size} exceeds the smaller "
                          f"FID sample count {smallest}; choose from: 2..{smallest}")


def spread_key(pattern: str, label: str) -> MetricKey:
    """KID's std over subsets and IS's over splits: the estimate's own spread, not a score. Its
    pattern is more specific than its mean's (`kid_*`), so it wins the match: no baseline (none
    is logged, and a spread has nothing to beat, not even the untrained model), no plot panel;
    smaller is a steadier estimate."""
    return MetricKey(pattern, higher_is_better=False, label=label, plotted=False, untrained=None)


METRICS.register("fid", Metric(
    fid, kinds=("image",), fid_features=True,
    counts=("fid_gen_count", "fid_real_count", "kid_subset_size", "classifier_train_count"),
    keys=(MetricKey("fid_*", higher_is_better=False, label=SAMPLES, baseline=PIXEL_GAUSSIAN),
          MetricKey("kid_*", higher_is_better=False, label=SAMPLES, baseline=PIXEL_GAUSSIAN),
          spread_key("kid_*_std", SAMPLES),
          MetricKey("is_*", higher_is_better=True, label=IS_SAMPLES, baseline=PIXEL_GAUSSIAN),
          spread_key("is_*_std", IS_SAMPLES)),
    baseline=fid_baseline, check=check_kid_subset))
