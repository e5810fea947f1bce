"""modes_covered and high_quality_frac: mode coverage of the 2-D mixture of Gaussians.

As in VEEGAN and PacGAN: a sample is of high quality when it lies within three standard
deviations of some centre, and a mode is covered when at least `min_count` samples lie within
three standard deviations of it. The centres and spread are the dataset's own: its source
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
RADIUS_IN_STD = 3.0


def nearest_centre(samples: torch.Tensor, centres: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample (N, 2): the index of its nearest centre (K, 2) and the distance to it."""
    import torch  # only when computing: the declarations below load without it

    dist, idx = torch.cdist(samples.double(), centres.double()).min(dim=1)
    return idx, dist


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float,
                  min_count: int) -> dict[str, float]:
    """modes_covered (a count, as float) and high_quality_frac of `samples`."""
    idx, dist = nearest_centre(samples, centres)
    near = dist <= RADIUS_IN_STD * std
    counts = idx[near].bincount(minlength=len(centres))
    return {KEY_MODES_COVERED: float((counts >= min_count).sum().item()),
            KEY_HIGH_QUALITY_FRAC: near.double().mean().item()}


def modes(ctx: EvalContext) -> dict[str, float]:
    """The `modes` metric: samples decoded from fixed latents against the data's modes."""
    declared = ctx.inputs.data.modes
    assert declared is not None, "validate_eval_config refuses modes for data without modes"
    samples = ctx.decoded(ctx.settings.mode_sample_count, "modes_z")
    return mode_coverage(samples, declared.centres, declared.std, ctx.settings.modes_min_count)


METRICS.register("modes", Metric(
    modes, kinds=("points",), needs_modes=True,
    keys=(MetricKey(KEY_MODES_COVERED, higher_is_better=True),
          MetricKey(KEY_HIGH_QUALITY_FRAC, higher_is_better=True))))
