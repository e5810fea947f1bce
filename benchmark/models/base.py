"""What every ALI network pair shares: the encoder's output and the reparametrization trick."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class EncoderOutput(NamedTuple):
    z: torch.Tensor  # (B, z_dim) sample of q(z | x)
    mu: torch.Tensor  # (B, z_dim)
    log_sigma: torch.Tensor  # (B, z_dim)


# Keeps exp(log_sigma) finite early in training, when the linear head can output anything.
LOG_SIGMA_RANGE = (-10.0, 5.0)


def reparametrize(
    mu: torch.Tensor, log_sigma: torch.Tensor, eps: torch.Tensor | None = None
) -> EncoderOutput:
    """z = mu + sigma * eps with one standard normal draw per sample AND per latent dimension.

    Passing `eps` lets an update scheme reuse the encoder noise of an earlier forward pass.
    """
    log_sigma = log_sigma.clamp(*LOG_SIGMA_RANGE)
    if eps is None:
        eps = torch.randn_like(mu)
    assert eps.shape == mu.shape, f"eps {tuple(eps.shape)} != mu {tuple(mu.shape)}"
    return EncoderOutput(mu + log_sigma.exp() * eps, mu, log_sigma)


class ALI(nn.Module):
    """The three players: encoder Gz(x), decoder Gx(z) and discriminator D(x, z).

    `recon_decoder` is only set on scoring copies (`benchmark.batch_norm`): the same decoder
    weights with BatchNorm statistics of the encoder's codes rather than of prior draws.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, discriminator: nn.Module,
                 z_dim: int, recon_decoder: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.discriminator = discriminator
        self.z_dim = z_dim
        self.recon_decoder = recon_decoder

    @property
    def code_decoder(self) -> nn.Module:
        """The decoder for the encoder's codes (reconstructions, interpolations)."""
        return self.decoder if self.recon_decoder is None else self.recon_decoder

    def generator_parameters(self) -> list[nn.Parameter]:
        """Encoder and decoder play together against the discriminator."""
        return list(self.encoder.parameters()) + list(self.decoder.parameters())

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.discriminator.parameters())
