"""Panels: expected sizes, fixed inputs across calls, and originals where originals belong."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from eval_models import identity_ali, tiny_ali

from benchmark.evaluation.evaluator import Evaluator
from benchmark.evaluation.panels import PADDING, grid_to_image, tile

H = W = 28


def _quantised(x: torch.Tensor) -> np.ndarray:
    """A uint8 (1, H, W) image as a panel tile shows it: (H, W, 3)."""
    return x.expand(3, -1, -1).permute(1, 2, 0).numpy()


@pytest.fixture
def evaluator(small_mnist, small_cfg):
    cfg = dataclasses.replace(small_cfg, panel_count=4, interpolation_steps=5)
    return Evaluator(cfg, small_mnist, torch.device("cpu"))


def _size(rows: int, cols: int) -> tuple[int, int, int]:
    return (PADDING + rows * (H + PADDING), PADDING + cols * (W + PADDING), 3)


def test_panel_sizes(evaluator):
    panels = evaluator.panels(tiny_ali())
    assert set(panels) == {"generation", "reconstruction", "interpolation"}
    assert panels["generation"].shape == _size(4, 4)
    assert panels["reconstruction"].shape == _size(2, 4)
    assert panels["interpolation"].shape == _size(4, 5 + 2)
    assert all(p.dtype == np.uint8 for p in panels.values())


def test_reconstruction_panel_shows_fixed_originals_on_top(evaluator, small_mnist):
    first = evaluator.panels(tiny_ali(seed=1))["reconstruction"]
    second = evaluator.panels(tiny_ali(seed=2))["reconstruction"]
    originals = small_mnist.test.x[evaluator.inputs.panel]
    for col in range(4):
        top = tile(first, 0, col, H, W)
        assert np.array_equal(top, _quantised(originals[col]))
        assert np.array_equal(top, tile(second, 0, col, H, W))  # same inputs for any model
    assert not np.array_equal(tile(first, 1, 0, H, W), tile(second, 1, 0, H, W))


def test_identity_reconstruction_row_equals_the_originals(evaluator):
    panel = evaluator.panels(identity_ali())["reconstruction"]
    for col in range(4):
        assert np.array_equal(tile(panel, 0, col, H, W), tile(panel, 1, col, H, W))


def test_interpolation_endpoints_are_the_original_pair(evaluator, small_mnist):
    panel = evaluator.panels(tiny_ali())["interpolation"]
    a, b = evaluator.inputs.pairs
    for row in range(4):
        assert np.array_equal(tile(panel, row, 0, H, W), _quantised(small_mnist.test.x[a[row]]))
        assert np.array_equal(tile(panel, row, 6, H, W), _quantised(small_mnist.test.x[b[row]]))


def test_identity_interpolation_is_a_pixel_blend(evaluator, small_mnist):
    # Identity encoder and decoder: the decoded middle is the linear blend of the two images.
    panel = evaluator.panels(identity_ali())["interpolation"]
    a, b = evaluator.inputs.pairs
    x1, x2 = small_mnist.test.x[a[0]].float() / 255, small_mnist.test.x[b[0]].float() / 255
    middle = ((x1 + x2) / 2 * 255).round().to(torch.uint8)  # t = 0.5 is the 3rd of 5 steps
    assert np.abs(tile(panel, 0, 3, H, W).astype(int) - _quantised(middle).astype(int)).max() <= 1


def test_generation_uses_fixed_latents(evaluator):
    ali = tiny_ali()
    assert np.array_equal(evaluator.panels(ali)["generation"], evaluator.panels(ali)["generation"])


def test_grid_to_image_accepts_uint8_and_float():
    x = torch.randint(0, 256, (3, 1, 5, 5), dtype=torch.uint8)
    assert np.array_equal(grid_to_image(x, 3), grid_to_image(x.float() / 255, 3))
    assert np.array_equal(tile(grid_to_image(x, 3), 0, 2, 5, 5), _quantised(x[2]))
