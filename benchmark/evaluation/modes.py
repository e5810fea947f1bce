"""modes_covered, high_quality_frac and modes_reverse_kl: mode coverage of a 2-D mixture.

As in VEEGAN and PacGAN: a sample is of high quality when it lies within three standard
deviations of some centre, and a mode is covered when at least `min_count` samples lie within
three standard deviations of it. PacGAN's third number, the reverse KL divergence
KL(generated || true) of the mode histogram: every sample is assigned to its nearest centre and
the histogram is compared with the true one (equal weights), so 0 is a perfect spread and
log(K) all samples on one mode. The centres and spread are the dataset's own: its source
declares them as `modes` (`benchmark.data.Modes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.evaluation.declarations import METRICS, Metric, MetricKey

if TYPE_CHECKING:
    import torch

    from benchmark.evaluation.context import EvalContext

KEY_MODES_COVERED = "modes_covered"
KEY_HIGH_QUALITY_FRAC = "high_quality_frac"
KEY_REVERSE_KL = "modes_reverse_kl"
RADIUS_IN_STD = 3.0


def nearest_centre(samples: torch.Tensor, centres: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample (N, 2): the index of its nearest centre (K, 2) and the distance to it."""
    import torch  # only when computing: the declarations below load without it

    dist, idx = torch.cdist(samples.double(), centres.double()).min(dim=1)
    return idx, dist


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float,
                  min_count: int) -> dict[str, float]:
    """modes_covered (a count, as float), high_quality_frac and modes_reverse_kl of `samples`."""
    idx, dist = nearest_centre(samples, centres)
    near = dist <= RADIUS_IN_STD * std
    counts = idx[near].bincount(minlength=len(centres))
    return {KEY_MODES_COVERED: float((counts >= min_count).sum().item()),
            KEY_HIGH_QUALITY_FRAC: near.double().mean().item(),
            KEY_REVERSE_KL: reverse_kl(idx, len(centres))}


def reverse_kl(nearest: torch.Tensor, modes: int) -> float:
    """KL(p || uniform) of the histogram of nearest centres: sum p log(p * K), 0 log 0 = 0."""
    p = nearest.bincount(minlength=modes).double() / len(nearest)
    p = p[p > 0]
    return float((p * (p * modes).log()).sum())


def modes(ctx: EvalContext) -> dict[str, float]:
    """The `modes` metric: samples decoded from fixed latents against the data's modes."""
    declared = ctx.inputs.data.modes
    assert declared is not None, "validate_eval_config refuses modes for data without modes"
    samples = ctx.decoded(ctx.settings.mode_sample_count, "modes_z")
    return mode_coverage(samples, declared.centres, declared.std, ctx.settings.modes_min_count)


METRICS.register("modes", Metric(
    modes, kinds=("points",), needs_modes=True,
    keys=(MetricKey(KEY_MODES_COVERED, higher_is_better=True),
          MetricKey(KEY_HIGH_QUALITY_FRAC, higher_is_better=True),
          MetricKey(KEY_REVERSE_KL, higher_is_better=False))))
