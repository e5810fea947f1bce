"""recon_mse: how close Gx(Gz(x)) comes to x on fixed held-out inputs, and its trivial baseline.

Images are compared in [0, 1] per pixel and channel, points in R^2 per coordinate. The encoder's
sample uses fixed noise, so two evaluations of the same weights give the same number; the mean
reconstruction shows how much of the error is the encoder's own spread. The baseline predicts
the training mean for every input: a model that learned nothing about x.

The tensors come from the context (`EvalContext.reconstructions`, `train_mean`); this module
itself loads without torch, so the report reads its declaration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.evaluation.declarations import METRICS, Baseline, Metric, MetricKey

if TYPE_CHECKING:
    import torch

    from benchmark.evaluation.context import EvalContext, Reconstructions

KEY_RECON_MSE = "recon_mse"  # Gx(z), z = mu + sigma * eps with fixed eps
KEY_RECON_MSE_MEAN = "recon_mse_mean"  # Gx(mu)
KEY_RECON_MSE_MEAN_IMAGE = "recon_mse_mean_image"  # baseline: predict the training mean


def mean_squared_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over every element (pixel and channel, or coordinate) and every input."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.double() - b.double()).pow(2).mean().item()


def reconstruction_mse(x: torch.Tensor, recons: Reconstructions) -> dict[str, float]:
    """recon_mse (encoder sample) and recon_mse_mean (encoder mean) of reconstructions of x."""
    return {KEY_RECON_MSE: mean_squared_error(recons.sample, x),
            KEY_RECON_MSE_MEAN: mean_squared_error(recons.mean, x)}


def mean_image_mse(mean: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
    """The error of a model that 'reconstructs' every input x as the training mean."""
    return {KEY_RECON_MSE_MEAN_IMAGE: mean_squared_error(mean.expand_as(x), x)}


def recon_mse(ctx: EvalContext) -> dict[str, float]:
    """The `recon_mse` metric on the fixed recon inputs."""
    return reconstruction_mse(ctx.recon_x(), ctx.reconstructions())


def recon_mse_baseline(ctx: EvalContext) -> dict[str, float]:
    """The mean-image baseline on the same inputs."""
    return mean_image_mse(ctx.train_mean(), ctx.recon_x())


METRICS.register("recon_mse", Metric(
    recon_mse, kinds=("image", "points"), counts=("recon_count",),
    keys=(MetricKey(KEY_RECON_MSE, higher_is_better=False, best=True,
                    baseline=Baseline(KEY_RECON_MSE_MEAN_IMAGE, "mean-image baseline"),
                    title="Reconstruction MSE", about=" on held-out images"),),
    baseline=recon_mse_baseline))
