"""`load_dataset`: both splits of a configured dataset, subset, resized and converted once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from benchmark.data.registry import DATASETS, SPLITS, CountedSource, FileBackedSource
from benchmark.data.samples import IMAGE, DataBundle, Samples
from benchmark.data.settings import DataConfig
from benchmark.data.transforms import convert_channels, resize_images, subset_indices
from benchmark.errors import ConfigError, DataError
from benchmark.models.tables import image_sizes

CHANNELS = (1, 3)
# The held-out images are the measuring instrument: every seed of a config is scored on the same
# test subset, so it is drawn with a fixed seed. The train subset follows the run's seed.
TEST_SUBSET_SEED = 2016


def subset_generator(seed: int, split: str) -> torch.Generator:
    """The generator that picks `split`'s subset for a run seeded with `seed`."""
    return torch.Generator().manual_seed(seed if split == "train" else TEST_SUBSET_SEED)


def _check(cfg: DataConfig) -> None:
    if cfg.image_size not in image_sizes():
        raise ConfigError(f"data.image_size: unknown value {cfg.image_size!r}; choose from: "
                          f"{', '.join(map(str, image_sizes()))}")
    if cfg.channels is not None and cfg.channels not in CHANNELS:
        raise ConfigError(f"data.channels: unknown value {cfg.channels!r}; choose from: "
                          f"null, {', '.join(map(str, CHANNELS))}")


def _subset_size(cfg: DataConfig, split: str, total: int) -> int | None:
    n = cfg.train_subset if split == "train" else cfg.test_subset
    if n is not None and not 1 <= n <= total:
        raise ConfigError(f"data.{split}_subset: {n} is not within the {total} {split} samples "
                          f"of {cfg.dataset}; choose from: 1..{total} or null")
    return n


def _load_split(cfg: DataConfig, split: str, seed: int) -> Samples:
    source = DATASETS.get(cfg.dataset)
    root = Path(cfg.data_root)
    is_image = source.kind == IMAGE
    if isinstance(source, FileBackedSource):
        total = source.count(root, split, cfg.download)
        n = _subset_size(cfg, split, total)
        index = None if n is None else subset_indices(total, n, subset_generator(seed, split))
        samples = source.load_subset(root, split, cfg.download, index,
                                     cfg.image_size if is_image else None)
    else:
        samples = source.load(root, split, cfg.download)
        n = _subset_size(cfg, split, len(samples))
        if n is not None:
            samples = samples.take(subset_indices(len(samples), n, subset_generator(seed, split)))
    if not is_image:
        return samples
    x = samples.x
    if cfg.channels == 1:  # reduce before resizing: a third of the pixels to interpolate
        x = convert_channels(x, 1)
    x = resize_images(x, cfg.image_size)
    if cfg.channels == 3:
        x = convert_channels(x, 3)
    return Samples(x, samples.y, samples.kind)


def check_available(cfg: DataConfig) -> None:
    """DataError when `cfg.dataset` is not on disk under `cfg.data_root`, without reading it: a
    few file lookups per split, so a grid checks every run's data before its first run starts.
    With `download: true` a missing dataset is fetched when its run starts, so nothing is due."""
    locate = getattr(DATASETS.get(cfg.dataset), "locate", None)  # in-memory sources have none
    if locate is None or cfg.download:
        return
    for split in SPLITS:
        locate(Path(cfg.data_root), split)


def on_disk(cfg: DataConfig) -> bool:
    """Whether every split of `cfg.dataset` is under `cfg.data_root` (in-memory sources always
    are): file lookups only, as `check_available` makes them."""
    try:
        check_available(replace(cfg, download=False))
    except DataError:
        return False
    return True


def split_sizes(cfg: DataConfig) -> dict[str, int]:
    """How many samples a run of `cfg` gets in each split (its subset, else the whole split),
    with the subset sizes checked as `load_dataset` checks them. Counted without decoding where
    the source can count (`CountedSource`), otherwise loaded; the data must be there."""
    source = DATASETS.get(cfg.dataset)
    root = Path(cfg.data_root)
    sizes = {}
    for split in SPLITS:
        if isinstance(source, CountedSource):
            total = source.count(root, split, cfg.download)
        else:
            total = len(source.load(root, split, cfg.download))
        sizes[split] = _subset_size(cfg, split, total) or total
    return sizes


def load_dataset(cfg: DataConfig, seed: int) -> DataBundle:
    """Load train and test of `cfg.dataset`: a train subset picked by `seed` (the test subset is
    the same for every seed), images at `image_size`.

    The 2-D mixtures (points) ignore `image_size` and `channels`.
    """
    source = DATASETS.get(cfg.dataset)
    if source.kind == IMAGE:
        _check(cfg)
    train, test = (_load_split(cfg, split, seed) for split in SPLITS)
    shape = tuple(train.x.shape[1:]) if source.kind == IMAGE else None
    assert source.kind != IMAGE or tuple(test.x.shape[1:]) == shape, (train.x.shape, test.x.shape)
    return DataBundle(train=train, test=test, image_shape=shape, kind=source.kind,
                      modes=getattr(source, "modes", None))


def readable_sizes(cfg: DataConfig) -> dict[str, int] | None:
    """The split sizes of `cfg`'s runs; None when they cannot be known before the runs: data
    fetched when its run starts (`download: true`), or present but unreadable (its run's
    failure names the file)."""
    if not on_disk(cfg):
        return None
    try:
        return split_sizes(cfg)
    except DataError:
        return None


def known_sizes(cfg: DataConfig, cache: dict[tuple, dict[str, int]] | None = None
                ) -> dict[str, int]:
    """The split sizes a run of `cfg` will get, as far as they are known before it starts: all
    of them when the data is readable now, else the subsets it asks for (a dataset fetched at
    its start has its canonical sizes, which no default count exceeds). `cache`, keyed by the
    data fields that decide the sizes, counts each dataset once per grid."""
    which = (cfg.dataset, cfg.data_root, cfg.download, cfg.train_subset, cfg.test_subset)
    if cache is not None and which in cache:
        return cache[which]
    try:
        sizes = readable_sizes(cfg)
    except ConfigError:  # a subset beyond its split: `check_data` refuses it, naming the run
        sizes = None
    if sizes is None:
        subsets = {"train": cfg.train_subset, "test": cfg.test_subset}
        sizes = {split: n for split, n in subsets.items() if n is not None}
    if cache is not None:
        cache[which] = sizes
    return sizes
