"""The datasets registry: names to sources (`DATASETS.register(name, source)`).

A source is any object with `kind` ("image" or "points"), `native_channels` (1 or 3; None for
points) and `load(root, split, download) -> Samples` at the native size. A source that can tell
a split's size without decoding it offers `count` (`CountedSource`); the others are loaded to be
counted. Sources whose samples are separate files may also offer `load_subset` (see
`FileBackedSource`), so that a subset is decoded without decoding the rest. Sources that read
files offer `locate(root, split)`: it finds them without reading them or raises the DataError
`load` would, so `check_available` can check a grid's data before its first run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from benchmark.data.celeba import CelebASource
from benchmark.data.cifar10 import Cifar10Source
from benchmark.data.digits import DigitsSource
from benchmark.data.mixture import (
    MIXTURE25_CENTERS,
    MIXTURE25_STD,
    RING8_CENTERS,
    RING8_STD,
    MixtureSource,
)
from benchmark.data.mnist import MnistSource
from benchmark.data.samples import IMAGE, POINTS, Samples
from benchmark.data.svhn import SvhnSource
from benchmark.registry import Registry

SPLITS = ("train", "test")


@runtime_checkable
class DatasetSource(Protocol):
    kind: str
    native_channels: int | None
    labelled: bool  # whether y holds classes (probes, classifier FID)

    def load(self, root: Path, split: str, download: bool) -> Samples:
        """The whole split at the source's native size; DataError when it is not on disk."""
        ...


@runtime_checkable
class CountedSource(DatasetSource, Protocol):
    def count(self, root: Path, split: str, download: bool) -> int:
        """How many samples the split has, without decoding them: a grid's preflight checks
        its subsets and eval counts against it (`split_sizes`) before anything is created."""
        ...


@runtime_checkable
class FileBackedSource(CountedSource, Protocol):
    def load_subset(self, root: Path, split: str, download: bool, index: torch.Tensor | None,
                    image_size: int | None) -> Samples:
        """Only the samples at `index` (all when None), resized to `image_size` if given."""
        ...


def _check_source(name: str, source: DatasetSource) -> None:
    if not isinstance(source, DatasetSource) or not callable(source.load):
        raise TypeError(f"dataset {name!r}: a source needs kind, native_channels, labelled and "
                        f"load(root, split, download), got {type(source).__name__}")
    if source.kind not in (IMAGE, POINTS):
        raise ValueError(f"dataset {name!r}: kind must be {IMAGE!r} or {POINTS!r}, "
                         f"got {source.kind!r}")
    if source.kind == IMAGE and source.native_channels not in (1, 3):
        raise ValueError(f"dataset {name!r}: native_channels must be 1 or 3, "
                         f"got {source.native_channels!r}")


DATASETS: Registry[DatasetSource] = Registry("dataset", "data.dataset", check=_check_source)

DATASETS.register("digits", DigitsSource())
DATASETS.register("mnist", MnistSource())
DATASETS.register("cifar10", Cifar10Source())
DATASETS.register("svhn", SvhnSource())
DATASETS.register("celeba", CelebASource())
DATASETS.register("mixture25", MixtureSource(MIXTURE25_CENTERS, MIXTURE25_STD))
DATASETS.register("ring8", MixtureSource(RING8_CENTERS, RING8_STD))
