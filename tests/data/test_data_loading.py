"""`load_dataset`: sizes, channels, deterministic subsets and the errors a user can cause."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmark.data import DATASETS, DataConfig, load_dataset, split_sizes
from benchmark.errors import ConfigError, DataError


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [None, 1, 3])
def test_digits_at_every_size_and_channel_count(size: int, channels: int | None) -> None:
    bundle = load_dataset(DataConfig(dataset="digits", image_size=size, channels=channels,
                                     train_subset=40, test_subset=10), seed=0)
    c = channels or 1
    assert bundle.kind == "image" and bundle.image_shape == (c, size, size)
    assert bundle.train.x.shape == (40, c, size, size)
    assert bundle.test.x.shape == (10, c, size, size)
    assert bundle.train.x.dtype == torch.uint8 and bundle.train.y.dtype == torch.int64


def test_real_mnist_and_cifar_with_resizing_and_conversion(shared_root: Path) -> None:
    mnist = load_dataset(DataConfig(dataset="mnist", data_root=str(shared_root), image_size=64,
                                    channels=3, train_subset=30, test_subset=20), seed=1)
    assert mnist.train.x.shape == (30, 3, 64, 64) and mnist.test.x.shape == (20, 3, 64, 64)
    assert torch.equal(mnist.train.x[:, 0], mnist.train.x[:, 2])
    cifar = load_dataset(DataConfig(dataset="cifar10", data_root=str(shared_root),
                                    image_size=28, channels=1), seed=1)
    assert cifar.train.x.shape == (5085, 1, 28, 28) and cifar.image_shape == (1, 28, 28)
    assert cifar.test.x.shape == (1017, 1, 28, 28)


def test_train_subsets_follow_the_seed_and_test_subsets_do_not() -> None:
    def load(seed: int, train_subset: int | None = 100):
        return load_dataset(DataConfig(dataset="digits", train_subset=train_subset,
                                       test_subset=50), seed=seed)

    a, b, c = load(7), load(7), load(8)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.x, c.train.x)
    # Every seed is scored on the same held-out images.
    assert torch.equal(a.test.x, c.test.x) and len(a.test.x) == 50
    # The test subset does not depend on whether a train subset was asked for.
    assert torch.equal(load(7, train_subset=None).test.x, a.test.x)
    full = load_dataset(DataConfig(dataset="digits"), seed=0).train.x
    rows = {bytes(r.numpy()) for r in full}
    assert all(bytes(r.numpy()) in rows for r in a.train.x)
    assert len({bytes(r.numpy()) for r in a.train.x}) > 90  # distinct rows, not repeats


def test_mixture25_ignores_image_options_and_subsets() -> None:
    bundle = load_dataset(DataConfig(dataset="mixture25", image_size=64, channels=3,
                                     train_subset=500), seed=0)
    assert bundle.kind == "points" and bundle.image_shape is None
    assert bundle.train.x.shape == (500, 2) and bundle.test.x.shape == (5000, 2)


@pytest.mark.parametrize(("cfg", "pattern"), [
    (DataConfig(dataset="mnits"), r"^data\.dataset: unknown value 'mnits'; choose from: "
                                  r"celeba, cifar10, digits, mixture25, mnist, ring8, svhn$"),
    (DataConfig(image_size=30), r"^data\.image_size: unknown value 30; choose from: 28, 32, 64$"),
    (DataConfig(channels=2), r"^data\.channels: unknown value 2; choose from: null, 1, 3$"),
    (DataConfig(train_subset=2000), r"^data\.train_subset: 2000 is not within the 1500 train "
                                    r"samples of digits; choose from: 1\.\.1500 or null$"),
    (DataConfig(test_subset=0), r"^data\.test_subset: 0 is not within"),
])
def test_config_mistakes_are_one_line_config_errors(cfg: DataConfig, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_dataset(cfg, seed=0)


@pytest.mark.parametrize(("dataset", "subsets"), [
    ("digits", (None, None)), ("digits", (40, 10)), ("mixture25", (500, None)),
    ("mnist", (None, None)), ("mnist", (30, 20)), ("cifar10", (None, None)),
    ("cifar10", (None, 700)),
    pytest.param("celeba", (None, None), marks=pytest.mark.slow),  # decodes 10,000 JPEGs
])
def test_split_sizes_count_what_load_dataset_loads(dataset: str, subsets: tuple, shared_root: Path,
                                                   monkeypatch) -> None:
    """The preflight's sizes, counted without decoding, are the loaded bundle's; the sources it
    counts never decode an image for it (their `load` is not called)."""
    cfg = DataConfig(dataset=dataset, data_root=str(shared_root), image_size=28,
                     train_subset=subsets[0], test_subset=subsets[1])
    bundle = load_dataset(cfg, seed=0)
    source = DATASETS.get(dataset)

    def refuse(*args: object) -> None:
        raise AssertionError(f"{dataset}: split_sizes decoded the images")

    monkeypatch.setattr(source, "load", refuse)
    if hasattr(source, "load_subset"):
        monkeypatch.setattr(source, "load_subset", refuse)
    assert split_sizes(cfg) == {"train": len(bundle.train), "test": len(bundle.test)}


def test_split_sizes_refuse_a_subset_beyond_a_split_as_loading_does(shared_root: Path) -> None:
    cfg = DataConfig(dataset="cifar10", data_root=str(shared_root), test_subset=1018)
    with pytest.raises(ConfigError, match=r"^data\.test_subset: 1018 is not within the 1017 test "
                                          r"samples of cifar10; choose from: 1\.\.1017 or null$"):
        split_sizes(cfg)


def test_missing_data_is_a_data_error_naming_the_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=str(tmp_path / "mnist")):
        load_dataset(DataConfig(dataset="mnist", data_root=str(tmp_path)), seed=0)
