"""Resizing, channel conversion and deterministic subsets, done once at load time.

Images stay uint8 in storage (a quarter of the memory of float32) and become float32 in [0, 1]
only per minibatch, through `as_float`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# ITU-R BT.601 luma weights, the ones PIL's RGB -> "L" conversion uses.
_LUMA = torch.tensor([0.299, 0.587, 0.114])
# Images resized per chunk, so a 60,000-image set at 64x64 never needs a full float copy.
_CHUNK = 2048


def as_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [0, 1] (the model's range); float tensors pass unchanged."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    if x.is_floating_point():
        return x
    raise TypeError(f"as_float expects uint8 or floating tensors, got {x.dtype}")


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float pixel values on the 0..255 scale -> uint8, rounded to nearest."""
    return x.round_().clamp_(0, 255).to(torch.uint8)


def resize_images(x: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, size, size), antialiased bilinear; no-op at that size.

    Antialiasing matters when shrinking (CelebA 178 -> 64): plain bilinear would alias.
    """
    n, c, h, w = x.shape
    if (h, w) == (size, size):
        return x
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    for start in range(0, n, _CHUNK):
        chunk = x[start:start + _CHUNK].to(torch.float32)
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=True)
        out[start:start + _CHUNK] = to_uint8(chunk)
    return out


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, channels, H, W): gray repeats into RGB, RGB reduces to luma."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    if c == 3 and channels == 1:
        out = torch.empty((x.shape[0], 1, *x.shape[2:]), dtype=torch.uint8)
        for start in range(0, len(x), _CHUNK):
            chunk = x[start:start + _CHUNK].to(torch.float32)
            out[start:start + _CHUNK] = to_uint8(
                torch.einsum("nchw,c->nhw", chunk, _LUMA).unsqueeze(1))
        return out
    raise ValueError(f"cannot convert {c} channels to {channels}")


def subset_indices(total: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """`n` distinct positions out of `total`, drawn from `generator`, in ascending order.

    Ascending order keeps file-backed sources reading their files front to back.
    """
    assert 0 < n <= total, (n, total)
    return torch.randperm(total, generator=generator)[:n].sort().values
