"""Layer tables of the ALI networks, one per image size.

The 32x32 table is the ALI paper's (Dumoulin et al. 2016, Table 4), reproduced in the seed report's
appendix (Figure 15). The seed report rescales every dataset to 28x28, where the 32x32 table does
not fit (its fifth 4x4 convolution would see a 0x0 map), so the 28x28 table keeps the same layers
and widths with the last spatial kernel shrunk to 3x3 and the decoder mirroring the encoder. The
64x64 table, for CelebA, is a DCGAN-style stack of stride-2 4x4 convolutions to a 1x1 map,
followed by the same 1x1 head as the 32x32 table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layer:
    """One row of an architecture table."""

    kernel: int
    stride: int
    channels: int  # output feature maps at width 1.0
    batch_norm: bool
    padding: int = 0


@dataclass(frozen=True)
class Architecture:
    """The spatial stacks of one image size; 1x1 heads are shared across sizes."""

    image_size: int
    encoder: tuple[Layer, ...]  # x -> 1x1 map, convolutions
    decoder: tuple[Layer, ...]  # 1x1 z -> image, transposed convolutions
    discriminator_x: tuple[Layer, ...]  # D(x) branch, convolutions


_ENCODER_32 = (
    Layer(5, 1, 32, True),
    Layer(4, 2, 64, True),
    Layer(4, 1, 128, True),
    Layer(4, 2, 256, True),
    Layer(4, 1, 512, True),
)
_DECODER_32 = (
    Layer(4, 1, 256, True),
    Layer(4, 2, 128, True),
    Layer(4, 1, 64, True),
    Layer(4, 2, 32, True),
    Layer(5, 1, 32, True),
)
# D(x): the encoder's stack with dropout and no batch norm on the first layer.
_DX_32 = (Layer(5, 1, 32, False),) + _ENCODER_32[1:]

_ENCODER_28 = _ENCODER_32[:4] + (Layer(3, 1, 512, True),)  # 28 -> 24 -> 11 -> 8 -> 3 -> 1
_DECODER_28 = (Layer(3, 1, 256, True),) + _DECODER_32[1:]  # 1 -> 3 -> 8 -> 11 -> 24 -> 28
_DX_28 = (Layer(5, 1, 32, False),) + _ENCODER_28[1:]

_ENCODER_64 = (
    Layer(4, 2, 64, True, padding=1),  # 32
    Layer(4, 2, 128, True, padding=1),  # 16
    Layer(4, 2, 256, True, padding=1),  # 8
    Layer(4, 2, 512, True, padding=1),  # 4
    Layer(4, 1, 512, True),  # 1
)
_DECODER_64 = (
    Layer(4, 1, 512, True),  # 4
    Layer(4, 2, 256, True, padding=1),  # 8
    Layer(4, 2, 128, True, padding=1),  # 16
    Layer(4, 2, 64, True, padding=1),  # 32
    Layer(4, 2, 32, True, padding=1),  # 64
)
_DX_64 = (Layer(4, 2, 64, False, padding=1),) + _ENCODER_64[1:]

# The one list of image sizes: `data.image_size` may be any size with a table here, so a new size
# is one entry (`ARCHITECTURES[16] = Architecture(16, ...)`, also from a plug-in).
ARCHITECTURES: dict[int, Architecture] = {
    28: Architecture(28, _ENCODER_28, _DECODER_28, _DX_28),
    32: Architecture(32, _ENCODER_32, _DECODER_32, _DX_32),
    64: Architecture(64, _ENCODER_64, _DECODER_64, _DX_64),
}


def image_sizes() -> list[int]:
    """The image sizes the networks can be built for."""
    return sorted(ARCHITECTURES)

# 1x1 heads shared by every size (channels at width 1.0).
ENCODER_HEAD = 512  # one 1x1 conv with batch norm, then a linear 1x1 conv to 2 * z_dim
DECODER_HEAD = 32  # one 1x1 conv with batch norm, then a 1x1 conv to the image channels + sigmoid
DISCRIMINATOR_Z = 512  # D(z): two 1x1 convs
DISCRIMINATOR_JOINT = 1024  # D(x, z): two 1x1 convs on the concatenation, then one to a logit
