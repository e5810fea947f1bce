"""2-D mixtures of Gaussians: the ALI paper's 25-Gaussian grid and PacGAN's 8-Gaussian ring.

- `mixture25`: means on {-4, -2, 0, 2, 4}^2, isotropic standard deviation 0.05 (the ALI paper;
  PacGAN's and VEEGAN's "2D-grid").
- `ring8`: eight means on the unit circle at angles 2*pi*k/8, standard deviation 0.01 (PacGAN's
  "2D-ring": variance 1e-4 per dimension; VEEGAN's code draws the same ring, radius 1, std 0.01).

Equal weights; 50,000 train and 5,000 test points drawn from fixed generator seeds, so every run
sees the same points (the run's seed picks subsets and minibatch order, not the data). The label
of a point is the index of its component. Each source declares its components as its `modes`,
which the mode-coverage metric scores samples against.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from benchmark.data.samples import POINTS, Modes, Samples

_GRID = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
MIXTURE25_CENTERS = torch.cartesian_prod(_GRID, _GRID)  # (25, 2), row-major
MIXTURE25_STD = 0.05
_ANGLES = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
RING8_CENTERS = torch.stack([torch.cos(_ANGLES), torch.sin(_ANGLES)], dim=1)  # (8, 2)
RING8_STD = 0.01
SIZES = {"train": 50_000, "test": 5_000}
SEEDS = {"train": 2016, "test": 2017}  # fixed: the data do not depend on the run's seed


def sample_mixture(centres: torch.Tensor, std: float, n: int, seed: int) -> Samples:
    """`n` points of the equal-weight mixture from a generator seeded with `seed`."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(len(centres), (n,), generator=g)
    x = centres[y] + std * torch.randn(n, 2, generator=g)
    return Samples(x, y, POINTS)


def sample_mixture25(n: int, seed: int) -> Samples:
    """`n` points of the 25-Gaussian grid."""
    return sample_mixture(MIXTURE25_CENTERS, MIXTURE25_STD, n, seed)


class MixtureSource:
    """A 2-D Gaussian mixture generated in memory; `root` and `download` are unused."""

    native_channels = None
    kind = POINTS
    labelled = True

    def __init__(self, centres: torch.Tensor, std: float):
        self.modes = Modes(centres, std)

    def count(self, root: Path, split: str, download: bool) -> int:
        return SIZES[split]

    def load(self, root: Path, split: str, download: bool) -> Samples:
        return sample_mixture(self.modes.centres, self.modes.std, SIZES[split], SEEDS[split])

