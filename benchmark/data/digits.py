"""scikit-learn's 8x8 handwritten digits: 1,797 images that ship inside the package.

The smallest real image set, so tests and smoke runs need no download. Pixel values 0..16 are
scaled to 0..255. Split (fixed): the first 1,500 images are train, the last 297 are test.
"""

from __future__ import annotations

from pathlib import Path

import torch

from benchmark.data.samples import IMAGE, Samples

N_TOTAL = 1797  # sklearn's digits: fixed, they ship inside the package
N_TEST = 297


class DigitsSource:
    """The UCI digits via `sklearn.datasets.load_digits`; `root` and `download` are unused."""

    native_channels = 1
    kind = IMAGE
    labelled = True

    def count(self, root: Path, split: str, download: bool) -> int:
        """Without importing scikit-learn (seconds), so a dry run stays light."""
        return N_TEST if split == "test" else N_TOTAL - N_TEST

    def load(self, root: Path, split: str, download: bool) -> Samples:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = torch.from_numpy(bunch.images).to(torch.float32)  # (1797, 8, 8), 0..16
        x = (images * (255.0 / 16.0)).round_().to(torch.uint8).unsqueeze(1)
        y = torch.from_numpy(bunch.target).to(torch.int64)
        part = slice(None, -N_TEST) if split == "train" else slice(-N_TEST, None)
        return Samples(x[part].contiguous(), y[part].contiguous(), IMAGE)
