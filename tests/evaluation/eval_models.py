"""Tiny ALI models that follow the contract, for the evaluation tests: the real networks at width
0.125, and an exact identity (Gx(Gz(x)) = x bit for bit)."""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models import ALI, EncoderOutput, ModelConfig, build_ali, build_encoder

TINY_MODEL = ModelConfig(z_dim=16, width=0.125)


def tiny_ali(seed: int = 0) -> ALI:
    """The real convolutional ALI at width 0.125, seeded: about 0.1 s per evaluation batch."""
    torch.manual_seed(seed)
    return build_ali(TINY_MODEL, (1, 28, 28))


def tiny_encoder() -> nn.Module:
    return build_encoder(TINY_MODEL, (1, 28, 28))


class FlattenEncoder(nn.Module):
    """Gz(x) = flattened x exactly: sigma = 0, so z = mu = x whatever eps is."""

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> EncoderOutput:
        mu = x.flatten(1)
        log_sigma = torch.full_like(mu, float("-inf"))
        eps = torch.randn_like(mu) if eps is None else eps
        return EncoderOutput(mu + log_sigma.exp() * eps, mu, log_sigma)


class UnflattenDecoder(nn.Module):
    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.view(len(z), *self.shape)


def identity_ali(shape: tuple[int, ...] = (1, 28, 28)) -> ALI:
    """An ALI whose reconstruction Gx(Gz(x)) is x itself, bit for bit."""
    dim = int(torch.tensor(shape).prod())
    return ALI(FlattenEncoder(), UnflattenDecoder(shape), nn.Identity(), dim)
