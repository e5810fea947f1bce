"""The datasets registry: a plain dict from name to source, filled by `register_dataset`.

A source is any object with `kind` ("image" or "points"), `native_channels` (1 or 3; None for
points) and `load(root, split, download) -> Samples` at the native size. Sources whose samples
are separate files may also offer `count` and `load_subset` (see `FileBackedSource`), so that a
subset is decoded without decoding the rest. Sources that read files offer `locate(root, split)`:
it finds them without reading them or raises the DataError `load` would, so `check_available`
can check a grid's data before its first run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from benchmark.data.celeba import CelebASource
from benchmark.data.cifar10 import Cifar10Source
from benchmark.data.digits import DigitsSource
from benchmark.data.mixture import Mixture25Source
from benchmark.data.mnist import MnistSource
from benchmark.data.samples import IMAGE, POINTS, Samples
from benchmark.data.svhn import SvhnSource
from benchmark.errors import ConfigError

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
class FileBackedSource(DatasetSource, Protocol):
    def count(self, root: Path, split: str, download: bool) -> int:
        """How many samples the split has, without decoding them."""
        ...

    def load_subset(self, root: Path, split: str, download: bool, index: torch.Tensor | None,
                    image_size: int | None) -> Samples:
        """Only the samples at `index` (all when None), resized to `image_size` if given."""
        ...


DATASETS: dict[str, DatasetSource] = {}


def register_dataset(name: str, source: DatasetSource) -> None:
    """Add `source` under `name`; names are unique identifiers without spaces or slashes."""
    if not isinstance(name, str) or not name or any(c.isspace() or c in "/\\" for c in name):
        raise ValueError(f"dataset name must be a non-empty string without spaces or slashes, "
                         f"got {name!r}")
    if name in DATASETS:
        raise ValueError(f"dataset {name!r} is already registered")
    if not isinstance(source, DatasetSource) or not callable(source.load):
        raise TypeError(f"dataset {name!r}: a source needs kind, native_channels, labelled and "
                        f"load(root, split, download), got {type(source).__name__}")
    if source.kind not in (IMAGE, POINTS):
        raise ValueError(f"dataset {name!r}: kind must be {IMAGE!r} or {POINTS!r}, "
                         f"got {source.kind!r}")
    if source.kind == IMAGE and source.native_channels not in (1, 3):
        raise ValueError(f"dataset {name!r}: native_channels must be 1 or 3, "
                         f"got {source.native_channels!r}")
    DATASETS[name] = source


def get_dataset(name: str) -> DatasetSource:
    """The source registered as `name`; an unknown name is a ConfigError listing the known."""
    if name not in DATASETS:
        raise ConfigError(f"data.dataset: unknown value {name!r}; choose from: "
                          f"{', '.join(sorted(DATASETS))}")
    return DATASETS[name]


register_dataset("digits", DigitsSource())
register_dataset("mnist", MnistSource())
register_dataset("cifar10", Cifar10Source())
register_dataset("svhn", SvhnSource())
register_dataset("celeba", CelebASource())
register_dataset("mixture25", Mixture25Source())
