"""Options of the data: which dataset, at what size, how much of it, in what batches."""

from __future__ import annotations

from dataclasses import dataclass, field


# The choices are read when a config is checked, so plug-ins registered by then are valid too.
def _dataset_names() -> list[str]:
    from benchmark.data.registry import DATASETS

    return DATASETS.names()


def _image_sizes() -> list[int]:
    from benchmark.models.tables import image_sizes

    return image_sizes()


@dataclass
class DataConfig:
    dataset: str = field(default="digits", metadata={
        "help": "dataset source (digits needs no download; mixture25 and ring8 are 2-D points)",
        "choices": _dataset_names})
    image_size: int = field(default=28, metadata={
        "help": "images are resized to this square size once at load time (ignored by the 2-D mixtures); "
                "the sizes the networks have a layer table for (models/tables.py)",
        "choices": _image_sizes})
    channels: int | None = field(default=None, metadata={
        "help": "1 or 3 converts gray<->RGB; null keeps the dataset's own (ignored by the 2-D mixtures)",
        "choices": [1, 3]})
    train_subset: int | None = field(default=None, metadata={
        "help": "use this many training samples (null: all); the same seed picks the same ones",
        "min": 1})
    test_subset: int | None = field(default=None, metadata={
        "help": "use this many test samples (null: all); the same ones for every seed",
        "min": 1})
    data_root: str = field(default="data", metadata={
        "help": "folder holding the datasets (e.g. mnist/, cifar10/, celeba/)", "in_key": False})
    download: bool = field(default=False, metadata={
        "help": "download a missing dataset through torchvision", "in_key": False})
    batch_size: int = field(default=100, metadata={
        "help": "minibatch size (paper: 100)", "min": 1})
