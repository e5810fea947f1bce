"""recon_mse: how close Gx(Gz(x)) comes to x on fixed held-out inputs, and its trivial baseline.

Images are compared in [0, 1] per pixel and channel, points in R^2 per coordinate. The encoder's
sample uses fixed noise, so two evaluations of the same weights give the same number; the mean
reconstruction shows how much of the error is the encoder's own spread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import nn

from benchmark.data import as_float

if TYPE_CHECKING:
    from benchmark.evaluation.context import EvalContext

KEY_RECON_MSE = "recon_mse"  # Gx(z), z = mu + sigma * eps with fixed eps
KEY_RECON_MSE_MEAN = "recon_mse_mean"  # Gx(mu)
KEY_RECON_MSE_MEAN_IMAGE = "recon_mse_mean_image"  # baseline: predict the training mean


class Reconstructions(NamedTuple):
    sample: torch.Tensor  # Gx(mu + sigma * eps), like x
    mean: torch.Tensor  # Gx(mu), like x


@torch.no_grad()
def reconstruct(ali: nn.Module, x: torch.Tensor, eps: torch.Tensor, batch_size: int,
                device: torch.device) -> Reconstructions:
    """Both reconstructions of x (float, model range) with encoder noise eps (len(x), z_dim)."""
    assert len(eps) == len(x), (eps.shape, x.shape)
    samples, means = [], []
    for i in range(0, len(x), batch_size):
        out = ali.encoder(x[i : i + batch_size].to(device), eps[i : i + batch_size].to(device))
        samples.append(ali.code_decoder(out.z).cpu())
        means.append(ali.code_decoder(out.mu).cpu())
    return Reconstructions(torch.cat(samples), torch.cat(means))


def mean_squared_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over every element (pixel and channel, or coordinate) and every input."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.double() - b.double()).pow(2).mean().item()


def reconstruction_mse(x: torch.Tensor, recons: Reconstructions) -> dict[str, float]:
    """recon_mse (encoder sample) and recon_mse_mean (encoder mean) of reconstructions of x."""
    return {KEY_RECON_MSE: mean_squared_error(recons.sample, x),
            KEY_RECON_MSE_MEAN: mean_squared_error(recons.mean, x)}


def mean_input(train_x: torch.Tensor, chunk: int = 4096, power: int = 1) -> torch.Tensor:
    """The training mean of x ** power in the model's range, (1, ...), summed in chunks of
    float64 (power 2 gives the second moment the pixel-Gaussian FID baseline needs)."""
    total = torch.zeros((1, *train_x.shape[1:]), dtype=torch.float64)
    for i in range(0, len(train_x), chunk):
        total += as_float(train_x[i : i + chunk]).double().pow(power).sum(dim=0, keepdim=True)
    return total / len(train_x)


def mean_image_mse(mean: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
    """The error of a model that 'reconstructs' every input x as the training mean."""
    return {KEY_RECON_MSE_MEAN_IMAGE: mean_squared_error(mean.expand_as(x), x)}


def recon_mse(ctx: EvalContext) -> dict[str, float]:
    """The `recon_mse` metric on the fixed recon inputs."""
    inputs = ctx.res.inputs
    return reconstruction_mse(inputs.test_x(inputs.recon), ctx.reconstructions())


def recon_mse_baseline(ctx: EvalContext) -> dict[str, float]:
    """The mean-image baseline on the same inputs."""
    inputs = ctx.res.inputs
    return mean_image_mse(mean_input(inputs.data.train.x), inputs.test_x(inputs.recon))
