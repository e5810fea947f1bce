"""MNIST from the four canonical idx files, read directly (gzip + numpy, magic numbers checked).

Looked for in `root/mnist/`, `root/MNIST/raw/` (where torchvision downloads) and `root/`,
gzipped or not. Download, when asked, goes through `torchvision.datasets.MNIST`.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from benchmark.data.locate import first_match, missing, run_download
from benchmark.data.samples import IMAGE, Samples
from benchmark.errors import DataError

PREFIX = {"train": "train", "test": "t10k"}
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension


def folders(root: Path) -> list[Path]:
    return [root / "mnist", root / "MNIST" / "raw", root]


def file_names(split: str) -> tuple[str, str]:
    """The canonical (images, labels) file names of a split, without `.gz`."""
    p = PREFIX[split]
    return f"{p}-images-idx3-ubyte", f"{p}-labels-idx1-ubyte"


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _read(path: Path, size: int = -1) -> bytes:
    """The first `size` bytes of an idx file (all when -1), gunzipped if it is gzipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            return f.read(size)
    except (OSError, EOFError) as err:
        raise DataError(f"mnist: cannot read {path} ({err})") from err


def _check_magic(path: Path, raw: bytes, magic: int) -> None:
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    if found != magic:
        raise DataError(f"mnist: {path} has magic number {found}, expected {magic}; "
                        "is it an MNIST idx file?")


def idx_length(path: Path, magic: int) -> int:
    """How many items an idx file holds, from its header alone (8 bytes, nothing decoded)."""
    raw = _read(path, 8)
    _check_magic(path, raw, magic)
    if len(raw) < 8:
        raise DataError(f"mnist: {path} ends inside its header; the file is truncated")
    return int.from_bytes(raw[4:8], "big")


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An idx file's array: big-endian header (magic, dims) then uint8 data."""
    raw = _read(path)
    _check_magic(path, raw, magic)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(shape)):
        raise DataError(f"mnist: {path} holds {data.size} bytes of data, its header says "
                        f"{shape}; the file is truncated or corrupt")
    return data.reshape(shape)


def _locate(root: Path, split: str) -> tuple[Path, Path] | None:
    images_name, labels_name = file_names(split)

    def find(folder: Path) -> tuple[Path, Path] | None:
        images, labels = _find(folder, images_name), _find(folder, labels_name)
        return (images, labels) if images and labels else None

    return first_match(folders(root), find)


class MnistSource:
    """MNIST 28x28 gray digits: 60,000 train, 10,000 test."""

    native_channels = 1
    kind = IMAGE
    labelled = True

    def locate(self, root: Path, split: str) -> tuple[Path, Path]:
        """The split's (images, labels) files, or the DataError naming where they were sought."""
        found = _locate(root, split)
        if found is None:
            images_name, labels_name = file_names(split)
            raise missing("mnist", f"{images_name}.gz / {labels_name}.gz", folders(root))
        return found

    def count(self, root: Path, split: str, download: bool) -> int:
        """From the images file's header: nothing is decompressed beyond it."""
        if download and _locate(root, split) is None:
            return len(self.load(root, split, download))
        return idx_length(self.locate(root, split)[0], IMAGES_MAGIC)

    def load(self, root: Path, split: str, download: bool) -> Samples:
        if download and _locate(root, split) is None:
            from torchvision.datasets import MNIST

            run_download("mnist", root, lambda: MNIST(str(root), train=split == "train",
                                                  download=True))
        found = self.locate(root, split)
        images = read_idx(found[0], IMAGES_MAGIC)
        labels = read_idx(found[1], LABELS_MAGIC)
        if len(images) != len(labels):
            raise DataError(f"mnist: {found[0]} has {len(images)} images but {found[1]} has "
                            f"{len(labels)} labels")
        x = torch.from_numpy(images.copy()).unsqueeze(1)  # (N, 1, 28, 28)
        y = torch.from_numpy(labels.astype(np.int64))
        return Samples(x, y, IMAGE)
