"""CIFAR-10: the shared non-canonical pickles, and a tiny canonical-layout folder written here."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10

from benchmark.data.cifar10 import Cifar10Source
from benchmark.errors import DataError

SOURCE = Cifar10Source()


def test_shared_subset_pickles_load_with_canonical_labels(shared_root: Path) -> None:
    train = SOURCE.load(shared_root, "train", False)
    test = SOURCE.load(shared_root, "test", False)
    assert train.x.shape == (5 * 1017, 3, 32, 32) and train.x.dtype == torch.uint8
    assert test.x.shape == (1017, 3, 32, 32) and test.y.dtype == torch.int64
    assert test.y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert train.y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert set(train.y.tolist()) == set(range(10))


def test_tiny_canonical_batches_load_exactly_through_the_pickle_reader(cifar_canonical) -> None:
    root, written = cifar_canonical
    # torchvision rejects files that are not the canonical download (md5), so the canonical
    # torchvision path cannot be exercised with tiny files; our reader takes them instead.
    with pytest.raises(RuntimeError):
        CIFAR10(str(root), train=True)
    for split, (data, labels) in written.items():
        samples = SOURCE.load(root, split, False)
        assert samples.x.shape == (len(data), 3, 32, 32)
        # Row layout of a batch: 1024 red, then 1024 green, then 1024 blue values, row-major.
        assert np.array_equal(samples.x[:, 1].reshape(len(data), -1).numpy(), data[:, 1024:2048])
        assert np.array_equal(samples.x.reshape(len(data), -1).numpy(), data)
        assert samples.y.tolist() == labels.tolist()


def test_pickle_without_labels_is_a_data_error(tmp_path: Path) -> None:
    folder = tmp_path / "cifar10"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8)}, f)
    with pytest.raises(DataError, match=r"not a CIFAR-10 batch.*b'labels'"):
        SOURCE.load(tmp_path, "test", False)


def test_garbage_file_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "data_batch_1").write_bytes(b"not a pickle at all")
    with pytest.raises(DataError, match="cannot unpickle"):
        SOURCE.load(tmp_path, "train", False)


def test_missing_batches_name_every_folder_searched(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        SOURCE.load(tmp_path, "test", False)
    message = str(info.value)
    assert "\n" not in message and "test_batch*" in message
    for folder in (tmp_path / "cifar10", tmp_path / "cifar-10-batches-py", tmp_path):
        assert str(folder) in message
    assert "pass --data-root DIR or set data.download: true" in message
