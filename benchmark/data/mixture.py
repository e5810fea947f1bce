"""The ALI paper's 2-D toy set: a mixture of 25 Gaussians on a 5x5 grid.

Means on {-4, -2, 0, 2, 4}^2, isotropic standard deviation 0.05, equal weights. 50,000 train
and 5,000 test points, drawn from fixed generator seeds so every run sees the same points (the
run's seed picks subsets and minibatch order, not the data). The label of a point is the index
of its component, row-major over the grid. The source declares the components as its `modes`,
which the mode-coverage metric scores samples against.
"""

from __future__ import annotations

from pathlib import Path

import torch

from benchmark.data.samples import POINTS, Modes, Samples

_GRID = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
MIXTURE25_CENTERS = torch.cartesian_prod(_GRID, _GRID)  # (25, 2), row-major
MIXTURE25_STD = 0.05
SIZES = {"train": 50_000, "test": 5_000}
SEEDS = {"train": 2016, "test": 2017}  # fixed: the data do not depend on the run's seed


def sample_mixture25(n: int, seed: int) -> Samples:
    """`n` points of the mixture from a generator seeded with `seed`."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(len(MIXTURE25_CENTERS), (n,), generator=g)
    x = MIXTURE25_CENTERS[y] + MIXTURE25_STD * torch.randn(n, 2, generator=g)
    return Samples(x, y, POINTS)


class Mixture25Source:
    """Generated in memory; `root` and `download` are unused."""

    native_channels = None
    kind = POINTS
    labelled = True
    modes = Modes(MIXTURE25_CENTERS, MIXTURE25_STD)

    def count(self, root: Path, split: str, download: bool) -> int:
        return SIZES[split]

    def load(self, root: Path, split: str, download: bool) -> Samples:
        return sample_mixture25(SIZES[split], SEEDS[split])
