"""SVHN: tiny .mat files in torchvision's format (no real copy is available offline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from benchmark.data.svhn import SvhnSource
from benchmark.errors import DataError

SOURCE = SvhnSource()


@pytest.mark.parametrize("layout", ["svhn", "."])
def test_tiny_mat_files_load_exactly(tmp_path: Path, write_svhn, layout: str) -> None:
    images, labels = write_svhn(tmp_path / layout, "train", 12)
    write_svhn(tmp_path / layout, "test", 3)
    samples = SOURCE.load(tmp_path, "train", False)
    assert samples.x.shape == (12, 3, 32, 32) and samples.x.dtype == torch.uint8
    # 'X' is (H, W, C, N): pixel (h, w) of channel c of image i.
    assert samples.x[5, 2, 7, 11] == images[7, 11, 2, 5]
    assert np.array_equal(samples.x.numpy(), images.transpose(3, 2, 0, 1))
    assert samples.y.dtype == torch.int64
    assert samples.y.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]  # label 10 is digit 0
    assert labels[9, 0] == 10
    assert len(SOURCE.load(tmp_path, "test", False)) == 3


def test_mat_with_wrong_layout_is_a_data_error(tmp_path: Path) -> None:
    scipy.io.savemat(str(tmp_path / "test_32x32.mat"),
                     {"X": np.zeros((4, 3, 32, 32), np.uint8), "y": np.ones((4, 1), np.uint8)})
    with pytest.raises(DataError, match=r"expected \(32, 32, 3, N\)"):
        SOURCE.load(tmp_path, "test", False)


def test_missing_mat_names_every_folder_searched(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        SOURCE.load(tmp_path, "train", False)
    message = str(info.value)
    assert "\n" not in message and "train_32x32.mat" in message
    assert str(tmp_path / "svhn") in message and "pass --data-root DIR" in message
