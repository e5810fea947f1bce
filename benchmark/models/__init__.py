"""The ALI networks: `build_ali` picks the table for the data's shape."""

from __future__ import annotations

import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.models.base import ALI, EncoderOutput, reparametrize
from benchmark.models.conv import ConvDecoder, ConvDiscriminator, ConvEncoder
from benchmark.models.mlp import MLPDecoder, MLPDiscriminator, MLPEncoder
from benchmark.models.settings import ModelConfig
from benchmark.models.tables import ARCHITECTURES, Architecture, image_sizes
from benchmark.registry import Registry

# Convolutions run faster on the CPU with channels-last (NHWC) weights: +17-24% per update at
# width 0.125, +7% at 0.5, +1-3% (within noise) at 1 (bench/README.md). Activations follow (a
# convolution with channels-last weights writes channels-last outputs, on the CPU and in cuDNN).
CONV_MEMORY_FORMAT = torch.channels_last

# The conv networks' weight layout, `train.memory_format`: channels_last (the default, the
# suite's layout since it was measured) or contiguous (NCHW, torch's own default).
MEMORY_FORMATS: Registry[torch.memory_format] = Registry("memory format", "train.memory_format")
MEMORY_FORMATS.register("channels_last", CONV_MEMORY_FORMAT)
MEMORY_FORMATS.register("contiguous", torch.contiguous_format)
DEFAULT_MEMORY_FORMAT = "channels_last"

__all__ = ["ALI", "CONV_MEMORY_FORMAT", "DEFAULT_MEMORY_FORMAT", "MEMORY_FORMATS", "EncoderOutput",
           "ModelConfig", "build_ali", "build_encoder", "reparametrize"]


def build_encoder(cfg: ModelConfig, data_shape: tuple[int, ...],
                  memory_format: str = DEFAULT_MEMORY_FORMAT) -> nn.Module:
    """The encoder alone: evaluation compares the trained one with a randomly initialised one."""
    if len(data_shape) == 1:
        return MLPEncoder(data_shape[0], cfg.z_dim, cfg.hidden, cfg.leak)
    encoder = ConvEncoder(_architecture(data_shape), data_shape[0], cfg.z_dim, cfg.width, cfg.leak)
    return encoder.to(memory_format=MEMORY_FORMATS.get(memory_format))


def build_ali(cfg: ModelConfig, data_shape: tuple[int, ...],
              memory_format: str = DEFAULT_MEMORY_FORMAT) -> ALI:
    """`data_shape` is (C, H, W) for images or (D,) for points; `memory_format` names the conv
    networks' weight layout (`MEMORY_FORMATS`)."""
    encoder = build_encoder(cfg, data_shape, memory_format)
    if len(data_shape) == 1:
        (dim,) = data_shape
        return ALI(
            encoder,
            MLPDecoder(dim, cfg.z_dim, cfg.hidden, cfg.leak),
            MLPDiscriminator(dim, cfg.z_dim, cfg.hidden, cfg.leak, cfg.dropout),
            cfg.z_dim,
        )
    arch, channels = _architecture(data_shape), data_shape[0]
    return ALI(
        encoder,
        ConvDecoder(arch, channels, cfg.z_dim, cfg.width, cfg.leak),
        ConvDiscriminator(arch, channels, cfg.z_dim, cfg.width, cfg.leak, cfg.dropout),
        cfg.z_dim,
    ).to(memory_format=MEMORY_FORMATS.get(memory_format))


def _architecture(data_shape: tuple[int, ...]) -> Architecture:
    _, height, width = data_shape
    if height != width or height not in ARCHITECTURES:
        sizes = ", ".join(map(str, image_sizes()))
        raise ConfigError(
            f"data.image_size: no architecture for {height}x{width}; choose from: {sizes}"
        )
    return ARCHITECTURES[height]
