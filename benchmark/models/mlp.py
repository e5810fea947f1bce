"""Small fully connected ALI networks for 2-D points (the mixture of 25 Gaussians)."""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.base import EncoderOutput, reparametrize


def _mlp(sizes: list[int], leak: float, dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [nn.Linear(a, b), nn.LeakyReLU(leak)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    def __init__(self, dim: int, z_dim: int, hidden: int, leak: float):
        super().__init__()
        self.z_dim = z_dim
        self.net = _mlp([dim, hidden, hidden, 2 * z_dim], leak)

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> EncoderOutput:
        mu, log_sigma = self.net(x).chunk(2, dim=1)
        return reparametrize(mu, log_sigma, eps)


class MLPDecoder(nn.Module):
    """Linear output: points live in R^2, not in [0, 1]."""

    def __init__(self, dim: int, z_dim: int, hidden: int, leak: float):
        super().__init__()
        self.net = _mlp([z_dim, hidden, hidden, dim], leak)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    def __init__(self, dim: int, z_dim: int, hidden: int, leak: float, dropout: float):
        super().__init__()
        self.net = _mlp([dim + z_dim, hidden, hidden, 1], leak, dropout)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, z], dim=1)).flatten()
