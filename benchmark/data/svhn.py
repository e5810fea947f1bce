"""SVHN (cropped digits): 32x32 colour house numbers, in torchvision's `.mat` format.

`train_32x32.mat` / `test_32x32.mat` under `root/svhn/` or `root/`, each with 'X' uint8
(32, 32, 3, N) and 'y' (N, 1), where label 10 stands for the digit 0. Download, when asked, goes
through `torchvision.datasets.SVHN` into `root/svhn/`. The 'extra' split is not used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmark.data.locate import first_match, missing, run_download
from benchmark.data.samples import IMAGE, Samples
from benchmark.errors import DataError


def folders(root: Path) -> list[Path]:
    return [root / "svhn", root]


def file_name(split: str) -> str:
    return f"{split}_32x32.mat"


def read_mat(path: Path) -> Samples:
    """One SVHN .mat file -> uint8 (N, 3, 32, 32) images and labels 0..9."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises several types on a damaged file
        raise DataError(f"svhn: cannot read {path} ({type(err).__name__}: {err})") from err
    if "X" not in mat or "y" not in mat:
        raise DataError(f"svhn: {path} lacks the keys 'X' and 'y' of torchvision's SVHN format")
    images, labels = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1)
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or images.shape[3] != len(labels):
        raise DataError(f"svhn: {path} has 'X' of shape {images.shape} and {len(labels)} "
                        "labels; expected (32, 32, 3, N) and N")
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(3, 2, 0, 1), dtype=np.uint8))
    y = torch.from_numpy(np.where(labels == 10, 0, labels).astype(np.int64))  # 10 means 0
    return Samples(x, y, IMAGE)


def _locate(root: Path, split: str) -> Path | None:
    name = file_name(split)

    def find(folder: Path) -> Path | None:
        path = folder / name
        return path if path.is_file() else None

    return first_match(folders(root), find)


class SvhnSource:
    """SVHN: 73,257 train and 26,032 test images."""

    native_channels = 3
    kind = IMAGE
    labelled = True

    def locate(self, root: Path, split: str) -> Path:
        """The split's .mat file, or the DataError naming where it was sought."""
        path = _locate(root, split)
        if path is None:
            raise missing("svhn", file_name(split), folders(root))
        return path

    def load(self, root: Path, split: str, download: bool) -> Samples:
        if download and _locate(root, split) is None:
            from torchvision.datasets import SVHN

            target = root / "svhn"
            run_download("svhn", target, lambda: SVHN(str(target), split=split, download=True))
        return read_mat(self.locate(root, split))
