"""Fixtures for the data tests: the shared real datasets, and writers of tiny files in the real
on-disk formats (idx.gz, CIFAR pickles, SVHN .mat, JPEG folders)."""

from __future__ import annotations

import gzip
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from environment import shared_data
from PIL import Image


@pytest.fixture(scope="session")
def shared_root() -> Path:
    """The read-only folder of real datasets (see its README.md)."""
    return shared_data("mnist")


def write_idx(path: Path, array: np.ndarray, magic: int, compress: bool = True) -> None:
    """An idx file: big-endian magic and dimensions, then the uint8 data."""
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


@pytest.fixture
def write_mnist() -> Callable[..., dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Writes the four idx files (7 train, 4 test images) into a folder; returns the arrays."""

    def write(folder: Path, compress: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(0)
        out = {}
        for split, prefix, n in (("train", "train", 7), ("test", "t10k", 4)):
            images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
            labels = rng.integers(0, 10, n, dtype=np.uint8)
            write_idx(folder / f"{prefix}-images-idx3-ubyte", images, 2051, compress)
            write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, 2049, compress)
            out[split] = (images, labels)
        return out

    return write


def write_cifar_batch(path: Path, data: np.ndarray, labels: list[int],
                      canonical: bool = True) -> None:
    """A python-format CIFAR-10 batch as the canonical files hold it (bytes keys)."""
    entry = {b"batch_label": b"tiny batch", b"labels": labels, b"data": data}
    if canonical:
        entry[b"filenames"] = [f"img_{i}.png".encode() for i in range(len(labels))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(entry, f, protocol=2)


@pytest.fixture
def cifar_canonical(tmp_path: Path) -> tuple[Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """`cifar-10-batches-py/` with data_batch_1..5 (3 images each), test_batch (2), batches.meta."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    train_data, train_labels = [], []
    for i in range(1, 6):
        data = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 3).tolist()
        write_cifar_batch(folder / f"data_batch_{i}", data, labels)
        train_data.append(data)
        train_labels += labels
    test_data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
    write_cifar_batch(folder / "test_batch", test_data, [3, 8])
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"num_cases_per_batch": 3, b"label_names": names, b"num_vis": 3072}, f)
    return tmp_path, {"train": (np.concatenate(train_data), np.array(train_labels)),
                      "test": (test_data, np.array([3, 8]))}


@pytest.fixture
def write_svhn() -> Callable[[Path, str, int], tuple[np.ndarray, np.ndarray]]:
    """Writes `<split>_32x32.mat` with 'X' uint8 (32, 32, 3, N) and 'y' (N, 1) in 1..10."""

    def write(folder: Path, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(2)
        images = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        labels = (np.arange(n) % 10 + 1).astype(np.uint8).reshape(n, 1)  # includes 10
        folder.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(str(folder / f"{split}_32x32.mat"), {"X": images, "y": labels})
        return images, labels

    return write


def band_face(width: int = 30, height: int = 40) -> Image.Image:
    """A blue square between red bands at top and bottom: a center crop keeps only blue."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, :] = (0, 0, 255)
    band = (height - width) // 2
    pixels[:band] = (255, 0, 0)
    pixels[height - band:] = (255, 0, 0)
    return Image.fromarray(pixels)


@pytest.fixture
def write_faces() -> Callable[[Path, int], list[Path]]:
    """Writes `n` JPEG faces 000001.jpg.. (30x40, blue between red bands) into a folder."""

    def write(folder: Path, n: int) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / f"{i:06d}.jpg" for i in range(1, n + 1)]
        for p in paths:
            band_face().save(p, quality=95, subsampling=0)  # 4:4:4: no colour bleed
        return paths

    return write
