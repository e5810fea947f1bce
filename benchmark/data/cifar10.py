"""CIFAR-10: 32x32 colour images of 10 classes, from python-format pickle batches.

Looked for in `root/cifar10/`, `root/cifar-10-batches-py/` and `root/`: train is every
`data_batch_*` file, test every `test_batch*` file. The canonical `cifar-10-batches-py` folder
is read by `torchvision.datasets.CIFAR10`, which checks its md5 sums. Pickles that are not the
canonical batches (a subset such as the shared 1,017-image cuts, or batches re-saved by hand)
fail that check, so they are read here directly: a dict with b'data' uint8 (n, 3072) and
b'labels' (n,); b'filenames' and b'batch_label' are not needed.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.data.locate import first_match, missing, run_download
from benchmark.data.samples import IMAGE, Samples
from benchmark.errors import DataError

CANONICAL = "cifar-10-batches-py"
PATTERN = {"train": "data_batch_*", "test": "test_batch*"}


def folders(root: Path) -> list[Path]:
    return [root / "cifar10", root / CANONICAL, root]


def batch_files(folder: Path, split: str) -> list[Path] | None:
    """The split's batch files in `folder`, sorted by name; None when there are none."""
    files = sorted(p for p in folder.glob(PATTERN[split]) if p.is_file())
    return files or None


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickle batch -> (images uint8 (n, 3, 32, 32), labels int64 (n,))."""
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="bytes")
    except Exception as err:  # unpickling raises many types on a damaged file
        raise DataError(f"cifar10: cannot unpickle {path} ({type(err).__name__}: {err})") from err
    if not isinstance(entry, dict) or b"data" not in entry or b"labels" not in entry:
        keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
        raise DataError(f"cifar10: {path} is not a CIFAR-10 batch (need keys b'data' and "
                        f"b'labels', found {keys})")
    data = np.asarray(entry[b"data"], dtype=np.uint8)
    labels = np.asarray(entry[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DataError(f"cifar10: {path} has data of shape {data.shape} and {len(labels)} "
                        "labels; expected (n, 3072) and n")
    return data.reshape(-1, 3, 32, 32), labels


def read_batches(files: list[Path]) -> Samples:
    parts = [read_batch(p) for p in files]
    x = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    return Samples(x, y, IMAGE)


def _from_torchvision(dataset: Any) -> Samples:
    x = torch.from_numpy(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2)))  # HWC -> CHW
    return Samples(x, torch.as_tensor(dataset.targets, dtype=torch.int64), IMAGE)


def _canonical(folder: Path, split: str) -> Samples | None:
    """The batches through torchvision when `folder` is an intact canonical download."""
    if folder.name != CANONICAL:
        return None
    from torchvision.datasets import CIFAR10

    try:
        return _from_torchvision(CIFAR10(str(folder.parent), train=split == "train"))
    except RuntimeError:  # md5 mismatch: not the canonical files, read them directly
        return None


def _locate(root: Path, split: str) -> tuple[Path, list[Path]] | None:
    def find(folder: Path) -> tuple[Path, list[Path]] | None:
        files = batch_files(folder, split)
        return (folder, files) if files else None

    return first_match(folders(root), find)


class Cifar10Source:
    """CIFAR-10: 50,000 train and 10,000 test images when complete."""

    native_channels = 3
    kind = IMAGE
    labelled = True

    def locate(self, root: Path, split: str) -> tuple[Path, list[Path]]:
        """The folder and batch files of the split, or the DataError naming where they were
        sought; nothing is unpickled."""
        found = _locate(root, split)
        if found is None:
            raise missing("cifar10", f"{PATTERN[split]} pickle files", folders(root))
        return found

    def count(self, root: Path, split: str, download: bool) -> int:
        """The batches' labels counted; unpickled, but without torchvision's import and md5s."""
        if download and _locate(root, split) is None:
            return len(self.load(root, split, download))
        return sum(len(read_batch(path)[1]) for path in self.locate(root, split)[1])

    def load(self, root: Path, split: str, download: bool) -> Samples:
        if download and _locate(root, split) is None:
            from torchvision.datasets import CIFAR10

            return _from_torchvision(run_download(
                "cifar10", root, lambda: CIFAR10(str(root), train=split == "train",
                                                 download=True)))
        folder, files = self.locate(root, split)
        samples = _canonical(folder, split)
        return read_batches(files) if samples is None else samples
