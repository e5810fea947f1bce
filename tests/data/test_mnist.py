"""MNIST: the shared canonical idx files, and tiny idx files written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.data.mnist import MnistSource
from benchmark.errors import DataError

SOURCE = MnistSource()


def test_real_mnist_has_canonical_sizes_and_first_labels(shared_root: Path) -> None:
    train = SOURCE.load(shared_root, "train", False)
    test = SOURCE.load(shared_root, "test", False)
    assert train.x.shape == (60_000, 1, 28, 28) and train.x.dtype == torch.uint8
    assert test.x.shape == (10_000, 1, 28, 28) and test.y.dtype == torch.int64
    assert train.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(train.y).tolist()[:2] == [5923, 6742]
    assert train.x.max() == 255 and train.x.min() == 0


@pytest.mark.parametrize("layout", ["MNIST/raw", "mnist", "."])
@pytest.mark.parametrize("compress", [True, False])
def test_tiny_idx_files_load_exactly(tmp_path: Path, write_mnist, layout: str,
                                     compress: bool) -> None:
    written = write_mnist(tmp_path / layout, compress)
    for split, (images, labels) in written.items():
        samples = SOURCE.load(tmp_path, split, False)
        assert samples.x.shape == (len(images), 1, 28, 28) and samples.x.dtype == torch.uint8
        assert np.array_equal(samples.x[:, 0].numpy(), images)
        assert np.array_equal(samples.y.numpy(), labels.astype(np.int64))


def test_wrong_magic_number_is_a_data_error(tmp_path: Path, write_mnist) -> None:
    write_mnist(tmp_path / "mnist")
    # Swap the labels file in for the images: a real idx file with the other magic number.
    images = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    images.write_bytes((tmp_path / "mnist" / "train-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(DataError, match=r"magic number 2049, expected 2051"):
        SOURCE.load(tmp_path, "train", False)


def test_truncated_file_is_a_data_error(tmp_path: Path, write_mnist) -> None:
    write_mnist(tmp_path / "mnist", compress=False)
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        SOURCE.load(tmp_path, "test", False)


def test_missing_files_name_every_folder_searched(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        SOURCE.load(tmp_path, "train", False)
    message = str(info.value)
    assert "\n" not in message
    for folder in (tmp_path / "mnist", tmp_path / "MNIST" / "raw", tmp_path):
        assert str(folder) in message
    assert "train-images-idx3-ubyte.gz" in message
    assert "pass --data-root DIR or set data.download: true" in message
