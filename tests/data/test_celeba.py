"""CelebA: the shared half-size faces (a small subset), and tiny JPEG folders written here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from benchmark.data import DataConfig, load_dataset
from benchmark.data.celeba import CelebASource
from benchmark.errors import DataError

SOURCE = CelebASource()


def test_shared_faces_split_by_name_and_subset_is_fast(shared_root: Path) -> None:
    assert SOURCE.count(shared_root, "train", False) == 9000
    assert SOURCE.count(shared_root, "test", False) == 1000
    cfg = DataConfig(dataset="celeba", data_root=str(shared_root), image_size=64,
                     train_subset=12, test_subset=4)
    bundle = load_dataset(cfg, seed=0)
    assert bundle.train.x.shape == (12, 3, 64, 64) and bundle.train.x.dtype == torch.uint8
    assert bundle.test.x.shape == (4, 3, 64, 64) and bundle.image_shape == (3, 64, 64)
    assert bundle.train.y.tolist() == [0] * 12
    assert 40 < bundle.train.x.float().mean() < 200  # faces, not blank images


def test_tiny_jpeg_folder_is_center_cropped_and_split(tmp_path: Path, write_faces) -> None:
    write_faces(tmp_path / "img_align_celeba_small", 10)
    train = SOURCE.load(tmp_path, "train", False)
    test = SOURCE.load(tmp_path, "test", False)
    assert train.x.shape == (9, 3, 30, 30) and test.x.shape == (1, 3, 30, 30)
    # The red bands above and below are cropped away: only the blue square is left.
    pixels = train.x.permute(0, 2, 3, 1).reshape(-1, 3).float()
    assert (pixels[:, 0] < 20).all() and (pixels[:, 2] > 235).all()


def test_torchvision_layout_uses_the_partition_file(tmp_path: Path, write_faces) -> None:
    paths = write_faces(tmp_path / "celeba" / "img_align_celeba", 5)
    parts = [0, 0, 1, 2, 0]
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text(
        "".join(f"{p.name} {part}\n" for p, part in zip(paths, parts, strict=True)))
    assert SOURCE.count(tmp_path, "train", False) == 3
    assert SOURCE.count(tmp_path, "test", False) == 1
    assert SOURCE.load(tmp_path, "test", False).x.shape == (1, 3, 30, 30)


def test_subset_decodes_only_its_files(tmp_path: Path, write_faces) -> None:
    folder = tmp_path / "celeba" / "img_align_celeba"
    write_faces(folder, 10)
    (folder / "000003.jpg").write_bytes(b"not a jpeg")  # train position 2
    samples = SOURCE.load_subset(tmp_path, "train", False, torch.tensor([0, 1, 5]), 28)
    assert samples.x.shape == (3, 3, 28, 28)
    with pytest.raises(DataError, match=r"cannot decode .*000003\.jpg"):
        SOURCE.load_subset(tmp_path, "train", False, None, 28)


def test_missing_folder_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        SOURCE.load(tmp_path, "train", False)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "celeba" / "img_align_celeba") in message
    assert "pass --data-root DIR or set data.download: true" in message


def test_faces_of_different_sizes_need_an_image_size(tmp_path: Path) -> None:
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for i, size in enumerate([(30, 40), (50, 40), (40, 40)], start=1):
        Image.new("RGB", size, (200, 100, 50)).save(folder / f"{i:06d}.jpg")
    resized = SOURCE.load_subset(tmp_path, "train", False, None, 32)
    assert resized.x.shape == (2, 3, 32, 32)
    with pytest.raises(DataError, match="different sizes.*set data.image_size"):
        SOURCE.load(tmp_path, "train", False)
