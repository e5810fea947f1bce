"""Datasets: one module per source, a registry that names them, and the minibatch sampler."""

from benchmark.data.loading import (
    check_available,
    known_sizes,
    load_dataset,
    on_disk,
    readable_sizes,
    split_sizes,
)
from benchmark.data.mixture import MIXTURE25_CENTERS, MIXTURE25_STD
from benchmark.data.registry import DATASETS, DatasetSource
from benchmark.data.sampler import BatchSampler
from benchmark.data.samples import DataBundle, Modes, Samples
from benchmark.data.settings import DataConfig
from benchmark.data.transforms import as_float

__all__ = [
    "DATASETS",
    "MIXTURE25_CENTERS",
    "MIXTURE25_STD",
    "BatchSampler",
    "DataBundle",
    "DataConfig",
    "DatasetSource",
    "Modes",
    "Samples",
    "as_float",
    "check_available",
    "known_sizes",
    "load_dataset",
    "on_disk",
    "readable_sizes",
    "split_sizes",
]
