"""The loaders on real images on any clone: tests/tiny_data/ holds the first images of real MNIST
and CIFAR-10 in their on-disk formats (made by its make.py from the full sets)."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from environment import ROOT, TINY_DATA

from benchmark.data import DataConfig, check_available, load_dataset, split_sizes


def _cfg(dataset: str, **changes) -> DataConfig:
    return DataConfig(dataset=dataset, data_root=str(TINY_DATA), **changes)


def test_tiny_mnist_loads_with_the_canonical_first_labels() -> None:
    cfg = _cfg("mnist", image_size=28)
    check_available(cfg)
    assert split_sizes(cfg) == {"train": 600, "test": 200}
    data = load_dataset(cfg, seed=0)
    assert data.train.x.shape == (600, 1, 28, 28) and data.train.x.dtype == torch.uint8
    assert data.train.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data.test.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert data.train.x.max() == 255 and data.train.x.min() == 0


def test_tiny_cifar10_loads_with_the_canonical_first_labels() -> None:
    cfg = _cfg("cifar10", image_size=32)
    assert split_sizes(cfg) == {"train": 5 * 16, "test": 40}
    data = load_dataset(cfg, seed=0)
    assert data.train.x.shape == (80, 3, 32, 32) and data.test.x.shape == (40, 3, 32, 32)
    assert data.test.y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert data.train.y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert data.train.y[16:19].tolist() != data.train.y[:3].tolist()  # five batches, in order


def test_subsets_resizing_and_channels_on_real_images() -> None:
    a = load_dataset(_cfg("cifar10", image_size=28, channels=1, train_subset=30,
                          test_subset=10), seed=0)
    b = load_dataset(_cfg("cifar10", image_size=28, channels=1, train_subset=30,
                          test_subset=10), seed=1)
    assert a.train.x.shape == (30, 1, 28, 28) and a.test.x.shape == (10, 1, 28, 28)
    assert torch.equal(a.test.x, b.test.x)  # the instrument: one test subset for every seed
    assert not torch.equal(a.train.x, b.train.x)  # the train subset follows the seed


def test_the_samples_stay_small() -> None:
    total = sum(p.stat().st_size for p in TINY_DATA.rglob("*") if p.is_file())
    assert total < 600_000, f"tests/tiny_data holds {total} bytes"


def test_no_absolute_path_of_a_machine_in_the_package_or_the_tests() -> None:
    pattern = re.compile("/" + "(work|root|home)/|" + "shared" + "/data")
    found = [f"{p.relative_to(ROOT)}:{i}" for folder in ("benchmark", "optim", "tests")
             for p in sorted((ROOT / folder).rglob("*.py"))
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if pattern.search(line)]
    assert found == []


def test_make_py_is_beside_the_files_it_made() -> None:
    assert (TINY_DATA / "make.py").is_file() and isinstance(TINY_DATA, Path)
