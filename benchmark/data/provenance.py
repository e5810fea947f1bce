"""What a run trained and was measured on, for the tracking store: each split's name, source,
digest and subset, so the MLflow UI's Dataset column names it and can filter by it."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.data.registry import DATASETS
from benchmark.data.samples import DataBundle, Samples
from benchmark.data.settings import DataConfig
from benchmark.errors import DataError


@dataclass(frozen=True)
class DatasetRecord:
    name: str  # the dataset, e.g. mnist
    split: str  # train or test: MLflow's dataset context
    digest: str  # of the samples the run sees (after subset, resize and channel conversion)
    source: str  # where they come from: a folder on disk, or the module that makes them
    source_kind: str  # "local" (a folder) or "code" (made by a module)
    profile: dict[str, object] = field(default_factory=dict)  # samples, subset, shape


def digest(samples: Samples) -> str:
    """Short sha256 of the samples and labels: two runs with equal digests saw the same data."""
    h = hashlib.sha256()
    for tensor in (samples.x, samples.y):
        h.update(tensor.contiguous().numpy().tobytes())
    return h.hexdigest()[:8]


def _source(cfg: DataConfig, split: str) -> tuple[str, str]:
    """The folder a file-backed source read (its `locate`), else the module that made the data,
    named by its docstring's first line; with its kind."""
    source = DATASETS.get(cfg.dataset)
    locate = getattr(source, "locate", None)
    if locate is not None:
        try:
            found = locate(Path(cfg.data_root), split)
        except DataError:  # downloaded elsewhere or moved since: the root is what is known
            found = Path(cfg.data_root)
        while isinstance(found, (tuple, list)):
            found = found[0]
        path = Path(found).resolve()
        return str(path.parent if path.is_file() else path), "local"
    module = sys.modules[type(source).__module__]
    summary = (module.__doc__ or "").strip().splitlines()
    return (f"{module.__name__}: {summary[0]}" if summary else module.__name__), "code"


def describe_datasets(cfg: DataConfig, data: DataBundle) -> list[DatasetRecord]:
    """One record per split of the loaded bundle."""
    records = []
    for split, samples in (("train", data.train), ("test", data.test)):
        subset = cfg.train_subset if split == "train" else cfg.test_subset
        records.append(DatasetRecord(
            cfg.dataset, split, digest(samples), *_source(cfg, split),
            {"split": split, "samples": len(samples),
             "subset": "all" if subset is None else subset,
             "shape": list(samples.x.shape[1:])}))
    return records
