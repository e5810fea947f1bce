"""CelebA aligned faces, from torchvision's layout or from any folder of aligned face images.

Folders searched, in order: `root/celeba/img_align_celeba*/`, `root/img_align_celeba*/` (the
exact name `img_align_celeba` first). With torchvision's `list_eval_partition.txt` beside the
folder, its split is used (0 = train, 2 = test; the validation partition 1 is not used).
Without it the split is fixed by file name: the last 10% of the sorted files (at least one) are
test, the rest train. Every image is center-cropped to the square of its shorter side (178x178
for the full 178x218 faces, 89x89 for the half-size copies) before any resizing. Labels are 0.

Decoding thousands of JPEGs dominates loading, so a subset is applied to the file list before
decoding (`load_subset`), and images are resized chunk by chunk as they are decoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmark.data.locate import first_match, run_download
from benchmark.data.samples import IMAGE, Samples
from benchmark.data.transforms import resize_images
from benchmark.errors import DataError

FOLDER = "img_align_celeba"
EXTENSIONS = (".jpg", ".jpeg", ".png")
PARTITION_FILE = "list_eval_partition.txt"
PARTITION = {"train": "0", "test": "2"}
TEST_FRACTION = 0.1
_CHUNK = 512  # files decoded before a batched resize: bounds memory at full size


def folders(root: Path) -> list[Path]:
    """Candidate image folders, exact torchvision name first, then other `img_align_celeba*`."""
    out: list[Path] = []
    for parent in (root / "celeba", root):
        out.append(parent / FOLDER)
        if parent.is_dir():
            out.extend(sorted(p for p in parent.glob(f"{FOLDER}*") if p.is_dir()))
    return list(dict.fromkeys(out))


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS and p.is_file())


def split_files(folder: Path, split: str) -> list[Path]:
    """The split's image files: from the partition file when present, else by file name."""
    partition = folder.parent / PARTITION_FILE
    if partition.is_file():
        pairs = (line.split() for line in partition.read_text().splitlines() if line.strip())
        return [folder / name for name, part in pairs if part == PARTITION[split]]
    files = image_files(folder)
    if len(files) < 2:
        raise DataError(f"celeba: {folder} holds {len(files)} image(s); a train/test split "
                        "needs at least 2")
    n_test = max(1, int(len(files) * TEST_FRACTION))
    return files[:-n_test] if split == "train" else files[-n_test:]


def decode(path: Path) -> torch.Tensor:
    """One image -> uint8 (3, S, S): the central square of its shorter side."""
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except OSError as err:
        raise DataError(f"celeba: cannot decode {path} ({err})") from err
    w, h = rgb.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    square = np.asarray(rgb.crop((left, top, left + s, top + s)))
    return torch.from_numpy(square.copy()).permute(2, 0, 1)  # HWC -> CHW


def decode_resized(paths: list[Path], size: int | None) -> list[torch.Tensor]:
    """Decode and crop `paths`, then resize them to `size` (if given), as one batch when they
    share a shape: per-image interpolation is many times slower on a busy CPU."""
    crops = [decode(p) for p in paths]
    if size is None or not crops:
        return crops
    if len({c.shape for c in crops}) == 1:
        return list(resize_images(torch.stack(crops), size))
    return [resize_images(c.unsqueeze(0), size)[0] for c in crops]


class CelebASource:
    """CelebA: 162,770 train and 19,962 test faces when complete."""

    native_channels = 3
    kind = IMAGE
    labelled = False  # no classes: label-based metrics (probe, knn, recon_acc) are refused

    def _folder(self, root: Path, download: bool) -> Path:
        def find(folder: Path) -> Path | None:
            return folder if any(image_files(folder)) else None

        folder = first_match(folders(root), find)
        if folder is None and download:
            from torchvision.datasets import CelebA

            run_download("celeba", root, lambda: CelebA(str(root), split="all", target_type=[],
                                                        download=True))
            folder = first_match(folders(root), find)
        if folder is None:
            raise DataError(f"celeba: no folder of face images at {root / 'celeba' / FOLDER}*/ or "
                            f"{root / FOLDER}*/; pass --data-root DIR or set data.download: true")
        return folder

    def locate(self, root: Path, split: str) -> Path:
        """The image folder (both splits live in it), or the DataError naming where it was
        sought; no image is decoded."""
        return self._folder(root, download=False)

    def count(self, root: Path, split: str, download: bool) -> int:
        return len(split_files(self._folder(root, download), split))

    def load_subset(self, root: Path, split: str, download: bool, index: torch.Tensor | None,
                    image_size: int | None) -> Samples:
        """Decode only the files at `index` (all when None), resized to `image_size` if given."""
        files = split_files(self._folder(root, download), split)
        if index is not None:
            files = [files[i] for i in index.tolist()]
        images = [im for start in range(0, len(files), _CHUNK)
                  for im in decode_resized(files[start:start + _CHUNK], image_size)]
        shapes = {tuple(im.shape) for im in images}
        if len(shapes) > 1:
            raise DataError(f"celeba: images of different sizes {sorted(shapes)[:3]} in "
                            f"{files[0].parent}; set data.image_size to resize them")
        x = torch.stack(images) if images else torch.empty((0, 3, 0, 0), dtype=torch.uint8)
        return Samples(x, torch.zeros(len(files), dtype=torch.int64), IMAGE)

    def load(self, root: Path, split: str, download: bool) -> Samples:
        return self.load_subset(root, split, download, None, None)
