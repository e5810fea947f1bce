"""The 2-D mixture of 25 Gaussians of the ALI paper."""

from __future__ import annotations

from pathlib import Path

import torch

from benchmark.data import MIXTURE25_CENTERS, MIXTURE25_STD
from benchmark.data.registry import DATASETS


def test_centers_are_the_5x5_grid() -> None:
    assert MIXTURE25_CENTERS.shape == (25, 2)
    assert sorted(set(MIXTURE25_CENTERS[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(c) for c in MIXTURE25_CENTERS.tolist()}) == 25
    assert MIXTURE25_STD == 0.05


def test_points_are_fixed_and_follow_their_components(tmp_path: Path) -> None:
    source = DATASETS["mixture25"]
    train = source.load(tmp_path, "train", False)
    test = source.load(tmp_path, "test", False)
    assert train.kind == "points" and train.x.shape == (50_000, 2) and test.x.shape == (5_000, 2)
    assert train.x.dtype == torch.float32 and train.y.dtype == torch.int64
    assert torch.equal(train.x, source.load(tmp_path, "train", False).x)  # deterministic
    assert not torch.equal(train.x[:5000], test.x)
    assert torch.bincount(train.y, minlength=25).min() > 1800  # every mode present
    offsets = train.x - MIXTURE25_CENTERS[train.y]
    assert offsets.mean(0).abs().max() < 0.002
    assert abs(offsets.std().item() - MIXTURE25_STD) < 0.002
    nearest = torch.cdist(train.x, MIXTURE25_CENTERS).argmin(1)
    assert torch.equal(nearest, train.y)
