"""The convolutional ALI networks for images, built from the layer tables in `tables.py`."""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.base import EncoderOutput, reparametrize
from benchmark.models.dropout import Dropout
from benchmark.models.tables import (
    DECODER_HEAD,
    DISCRIMINATOR_JOINT,
    DISCRIMINATOR_Z,
    ENCODER_HEAD,
    Architecture,
    Layer,
)


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def _block(conv: nn.Module, out: int, batch_norm: bool, leak: float, dropout: float) -> list:
    layers: list[nn.Module] = [conv]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out))
    layers.append(nn.LeakyReLU(leak))
    if dropout > 0:
        layers.append(Dropout(dropout))
    return layers


def _stack(
    table: tuple[Layer, ...], in_channels: int, width: float, leak: float, dropout: float,
    transposed: bool = False, batch_norm: bool = True,
) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    channels = in_channels
    conv_type = nn.ConvTranspose2d if transposed else nn.Conv2d
    for row in table:
        out = _scaled(row.channels, width)
        # Batch norm makes the convolution's bias redundant.
        use_bn = row.batch_norm and batch_norm
        conv = conv_type(channels, out, row.kernel, row.stride, row.padding, bias=not use_bn)
        layers += _block(conv, out, use_bn, leak, dropout)
        channels = out
    return nn.Sequential(*layers), channels


class ConvEncoder(nn.Module):
    """Gz(x): x (B, C, H, W) -> z (B, z_dim) by z = mu + sigma * eps."""

    def __init__(self, arch: Architecture, channels: int, z_dim: int, width: float, leak: float):
        super().__init__()
        self.z_dim = z_dim
        self.features, out = _stack(arch.encoder, channels, width, leak, 0.0)
        head = _scaled(ENCODER_HEAD, width)
        self.head = nn.Sequential(
            *_block(nn.Conv2d(out, head, 1, bias=False), head, True, leak, 0.0),
            nn.Conv2d(head, 2 * z_dim, 1),  # linear: mean and log standard deviation
        )

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> EncoderOutput:
        stats = self.head(self.features(x)).flatten(1)  # (B, 2 * z_dim)
        mu, log_sigma = stats.chunk(2, dim=1)
        return reparametrize(mu, log_sigma, eps)


class ConvDecoder(nn.Module):
    """Gx(z): z (B, z_dim) -> x (B, C, H, W) in [0, 1] (sigmoid, as in the paper)."""

    def __init__(self, arch: Architecture, channels: int, z_dim: int, width: float, leak: float):
        super().__init__()
        self.features, out = _stack(arch.decoder, z_dim, width, leak, 0.0, transposed=True)
        head = _scaled(DECODER_HEAD, width)
        self.head = nn.Sequential(
            *_block(nn.Conv2d(out, head, 1, bias=False), head, True, leak, 0.0),
            nn.Conv2d(head, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(z[:, :, None, None]))


class ConvDiscriminator(nn.Module):
    """D(x, z): a D(x) branch, a D(z) branch and a joint head on their concatenation -> logits."""

    def __init__(
        self, arch: Architecture, channels: int, z_dim: int, width: float, leak: float,
        dropout: float,
    ):
        super().__init__()
        self.x_branch, x_out = _stack(arch.discriminator_x, channels, width, leak, dropout)
        dz = _scaled(DISCRIMINATOR_Z, width)
        self.z_branch = nn.Sequential(
            *_block(nn.Conv2d(z_dim, dz, 1), dz, False, leak, dropout),
            *_block(nn.Conv2d(dz, dz, 1), dz, False, leak, dropout),
        )
        joint = _scaled(DISCRIMINATOR_JOINT, width)
        self.joint = nn.Sequential(
            *_block(nn.Conv2d(x_out + dz, joint, 1), joint, False, leak, dropout),
            *_block(nn.Conv2d(joint, joint, 1), joint, False, leak, dropout),
            Dropout(dropout),
            nn.Conv2d(joint, 1, 1),  # a logit; the losses apply the sigmoid in softplus form
        )

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        hx = self.x_branch(x)  # (B, 512w, 1, 1)
        hz = self.z_branch(z[:, :, None, None])  # (B, 512w, 1, 1)
        return self.joint(torch.cat([hx, hz], dim=1)).flatten()  # (B,)
