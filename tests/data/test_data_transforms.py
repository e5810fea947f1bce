"""Resizing, channel conversion, subsets and the uint8 -> float conversion."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from benchmark.data import as_float
from benchmark.data.transforms import convert_channels, resize_images, subset_indices


def test_as_float_maps_uint8_to_unit_interval_and_keeps_floats() -> None:
    x = torch.tensor([[0, 128, 255]], dtype=torch.uint8)
    out = as_float(x)
    assert out.dtype == torch.float32 and torch.equal(out, torch.tensor([[0.0, 128 / 255, 1.0]]))
    points = torch.randn(4, 2)
    assert as_float(points) is points
    with pytest.raises(TypeError, match="int32"):
        as_float(torch.zeros(2, dtype=torch.int32))


@pytest.mark.parametrize("source_size", [8, 28, 32, 89])
@pytest.mark.parametrize("size", [28, 32, 64])
def test_resize_gives_uint8_squares_and_keeps_constants(source_size: int, size: int) -> None:
    x = torch.full((3, 2, source_size, source_size), 77, dtype=torch.uint8)
    out = resize_images(x, size)
    assert out.shape == (3, 2, size, size) and out.dtype == torch.uint8
    assert (out == 77).all()


def test_resize_at_the_same_size_is_a_no_op() -> None:
    x = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    assert resize_images(x, 28) is x


def test_shrinking_is_antialiased() -> None:
    # A one-pixel checkerboard averages to mid-gray when shrunk with antialiasing; plain
    # bilinear sampling at a non-integer ratio keeps much of the pattern (aliasing).
    ij = torch.arange(64)
    board = ((ij[:, None] + ij[None, :]) % 2 * 255).to(torch.uint8).expand(1, 1, 64, 64)
    out = resize_images(board, 28).float()
    aliased = F.interpolate(board.float(), size=(28, 28), mode="bilinear", antialias=False)
    assert out.std() < 10 and aliased.std() > 3 * out.std()
    assert abs(out.mean().item() - 127.5) < 2


def test_channel_conversion() -> None:
    gray = torch.randint(0, 256, (2, 1, 5, 5), dtype=torch.uint8)
    rgb = convert_channels(gray, 3)
    assert rgb.shape == (2, 3, 5, 5) and all(torch.equal(rgb[:, c], gray[:, 0]) for c in range(3))
    assert torch.equal(convert_channels(rgb, 1), gray)  # equal channels keep their value
    red = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    red[:, 0] = 255
    assert convert_channels(red, 1).unique().tolist() == [76]  # round(0.299 * 255)
    assert convert_channels(red, 3) is red


def test_subset_indices_are_distinct_sorted_and_seeded() -> None:
    def pick(seed: int) -> torch.Tensor:
        return subset_indices(1000, 50, torch.Generator().manual_seed(seed))

    a = pick(3)
    assert len(a.unique()) == 50 and torch.equal(a, a.sort().values)
    assert a.min() >= 0 and a.max() < 1000
    assert torch.equal(a, pick(3)) and not torch.equal(a, pick(4))
