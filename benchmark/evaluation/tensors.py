"""Tensor plumbing shared by the metrics: dtype conversions, batching, fixed draws, RNG isolation.

Evaluation must never move the training RNG stream (a run has to train identically whether or not
it evaluates), so every random draw here comes from a fresh `torch.Generator` seeded from the
evaluator's seed and a purpose string, and anything that might touch the global stream runs inside
`fork_rng`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


def as_unit_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [0, 1]; float tensors (model outputs, points) pass through."""
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    return x.float()


def to_uint8_rgb(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) uint8 or float in [0, 1] -> uint8 (N, 3, H, W): torch-fidelity's input format.

    Quantising happens here only, at the FID boundary; grayscale is repeated to three channels.
    """
    assert x.dim() == 4 and x.shape[1] in (1, 3), tuple(x.shape)
    if x.dtype != torch.uint8:
        x = (x.float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x


def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int,
            device: torch.device) -> torch.Tensor:
    """Apply `fn` to x in batches on `device` and concatenate the results on the CPU."""
    outs = [fn(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else x[:0]


def purpose_generator(seed: int, purpose: str) -> torch.Generator:
    """A generator that gives the same stream for the same (seed, purpose), run after run."""
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(purpose.encode()))


def fixed_normal(shape: tuple[int, ...], seed: int, purpose: str) -> torch.Tensor:
    """Standard normal draws (latents, encoder noise) that every evaluation of every run shares."""
    return torch.randn(shape, generator=purpose_generator(seed, purpose))


def fixed_indices(total: int, count: int, seed: int, purpose: str) -> torch.Tensor:
    """`count` distinct indices into `total` items, the same for every run."""
    assert 0 < count <= total, (count, total)
    return torch.randperm(total, generator=purpose_generator(seed, purpose))[:count]


@contextmanager
def fork_rng(device: torch.device) -> Iterator[None]:
    """Restore the global torch RNG (and the CUDA device's) on exit."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        yield
