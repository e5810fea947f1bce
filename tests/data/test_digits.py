"""scikit-learn's 8x8 digits, the set that needs no download."""

from __future__ import annotations

from pathlib import Path

import torch
from sklearn.datasets import load_digits

from benchmark.data.digits import DigitsSource


def test_digits_split_and_scale(tmp_path: Path) -> None:
    source = DigitsSource()
    train = source.load(tmp_path, "train", False)
    test = source.load(tmp_path, "test", False)
    assert train.x.shape == (1500, 1, 8, 8) and test.x.shape == (297, 1, 8, 8)
    assert train.x.dtype == torch.uint8 and train.y.dtype == torch.int64
    assert int(train.x.max()) == 255 and int(train.x.min()) == 0
    raw = load_digits()
    # 0..16 scaled by 255/16; the test split is the last 297 images.
    assert torch.equal(test.x[-1, 0], torch.from_numpy(raw.images[-1] * 255 / 16).round().byte())
    assert test.y.tolist() == raw.target[-297:].tolist()
