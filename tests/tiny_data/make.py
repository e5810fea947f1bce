"""Rebuilds this folder from the full datasets: the first images of each real file, written in
the same on-disk format (idx.gz for MNIST, python pickle batches for CIFAR-10).

    python tests/tiny_data/make.py <folder holding mnist/ and cifar10/>
"""

from __future__ import annotations

import gzip
import pickle
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MNIST = {"train": 600, "t10k": 200}  # smoke.yaml takes 500 train and 200 test images
CIFAR_PER_BATCH, CIFAR_TEST = 16, 40


def idx_head(path: Path, n: int) -> bytes:
    """The first n records of an idx file, with the count in its header set to n."""
    raw = gzip.decompress(path.read_bytes())
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    record = 1
    for d in shape[1:]:
        record *= d
    header = raw[:4] + n.to_bytes(4, "big") + raw[8: 4 + 4 * dims]
    return header + raw[4 + 4 * dims: 4 + 4 * dims + n * record]


def main(source: Path) -> None:
    (HERE / "mnist").mkdir(exist_ok=True)
    for prefix, n in MNIST.items():
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte.gz"
            data = idx_head(source / "mnist" / name, n)
            # mtime 0: the same bytes on every rebuild
            (HERE / "mnist" / name).write_bytes(gzip.compress(data, 9, mtime=0))
    (HERE / "cifar10").mkdir(exist_ok=True)
    for path in sorted((source / "cifar10").glob("*_batch*")):
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="bytes")
        n = CIFAR_TEST if path.name.startswith("test") else CIFAR_PER_BATCH
        cut = {b"batch_label": entry[b"batch_label"], b"labels": entry[b"labels"][:n],
               b"data": entry[b"data"][:n]}
        name = path.name.split("_first")[0]
        with open(HERE / "cifar10" / name, "wb") as f:
            pickle.dump(cut, f, protocol=4)  # numpy bytes stored as they are
    (HERE / "cifar10" / "batches.meta").write_bytes((source / "cifar10" / "batches.meta").read_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
