"""The tensors a dataset source hands over, and the bundle `load_dataset` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

IMAGE = "image"
POINTS = "points"


@dataclass
class Samples:
    """One split: uint8 images (N, C, H, W) or float32 points (N, 2), with int64 labels (N,)."""

    x: torch.Tensor
    y: torch.Tensor
    kind: str  # IMAGE or POINTS

    def __post_init__(self) -> None:
        # Internal shape checks: a source that breaks these is a bug, not a user mistake.
        assert self.kind in (IMAGE, POINTS), self.kind
        assert self.y.dtype == torch.int64 and self.y.ndim == 1, (self.y.dtype, self.y.shape)
        assert len(self.x) == len(self.y), (self.x.shape, self.y.shape)
        if self.kind == IMAGE:
            assert self.x.dtype == torch.uint8 and self.x.ndim == 4, (self.x.dtype, self.x.shape)
        else:
            assert self.x.dtype == torch.float32 and self.x.ndim == 2, (self.x.dtype, self.x.shape)

    def __len__(self) -> int:
        return len(self.y)

    def take(self, index: torch.Tensor) -> Samples:
        """The rows at `index` (a 1-D int64 tensor), in that order."""
        return Samples(self.x[index], self.y[index], self.kind)


class Modes(NamedTuple):
    """The components of a mixture, which mode-coverage metrics score samples against: a source
    that has them declares them as its `modes` attribute."""

    centres: torch.Tensor  # (K, D) float
    std: float  # isotropic standard deviation of every component


@dataclass
class DataBundle:
    """Both splits of one dataset, ready for training: resized, converted, subset."""

    train: Samples
    test: Samples
    image_shape: tuple[int, int, int] | None  # (C, H, W); None for points
    kind: str
    modes: Modes | None = None  # the source's, if it declares them
