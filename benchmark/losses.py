"""Algorithm 1 of the ALI paper, from logits, in the numerically stable softplus form.

With rho = sigmoid(logit): -log(rho) = softplus(-logit) and -log(1 - rho) = softplus(logit), so
no probability is ever rounded to 0 or 1 before its logarithm is taken. Encoder pairs (x, Gz(x))
are the discriminator's "real" class, decoder pairs (Gx(z), z) its "fake" class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def binary_cross_entropy(logits: torch.Tensor, target: float) -> torch.Tensor:
    """-t log sigmoid(l) - (1 - t) log(1 - sigmoid(l)) = softplus(l) - t * l, averaged."""
    return (F.softplus(logits) - target * logits).mean()


def discriminator_loss(
    logits_encoder: torch.Tensor, logits_decoder: torch.Tensor,
    target_encoder: float = 1.0, target_decoder: float = 0.0,
) -> torch.Tensor:
    """L_d = -mean log rho_q - mean log(1 - rho_p); targets other than 1/0 are label smoothing."""
    return (binary_cross_entropy(logits_encoder, target_encoder)
            + binary_cross_entropy(logits_decoder, target_decoder))


def generator_loss(logits_encoder: torch.Tensor, logits_decoder: torch.Tensor) -> torch.Tensor:
    """L_g = -mean log(1 - rho_q) - mean log rho_p: the labels swapped (non-saturating form)."""
    return binary_cross_entropy(logits_encoder, 0.0) + binary_cross_entropy(logits_decoder, 1.0)
