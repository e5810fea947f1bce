"""Image panels with fixed inputs, so panels of different runs compare side by side.

Generation: a grid decoded from fixed latents. Reconstruction: fixed test images on the top row,
Gx(Gz(x)) below (the seed report's figures). Interpolation: one fixed test pair per row, x1, the
decodings of latents interpolated linearly between the encoder means, then x2; the end columns are
the original images. Points data get a scatter plot of samples over real points instead.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from benchmark.evaluation.context import as_unit_float

PADDING = 2  # pixels between tiles (torchvision's default)


def grid_to_image(x: torch.Tensor, nrow: int) -> np.ndarray:
    """Images (N, C, H, W) in [0, 1] or uint8 -> one uint8 (H', W', 3) grid, `nrow` per row."""
    from torchvision.utils import make_grid  # seconds to import: only when drawing

    grid = make_grid(as_unit_float(x.cpu()).clamp(0, 1), nrow=nrow, padding=PADDING)
    return (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def tile(image: np.ndarray, row: int, col: int, height: int, width: int) -> np.ndarray:
    """The (row, col) tile of a grid made by `grid_to_image`: for checking what a panel shows."""
    top, left = PADDING + row * (height + PADDING), PADDING + col * (width + PADDING)
    return image[top : top + height, left : left + width]


def generation_panel(samples: torch.Tensor, nrow: int) -> np.ndarray:
    """Decoded samples in a grid of `nrow` columns."""
    return grid_to_image(samples, nrow)


def reconstruction_panel(x: torch.Tensor, recon: torch.Tensor) -> np.ndarray:
    """Originals on the top row, their reconstructions on the row below."""
    assert x.shape == recon.shape, (x.shape, recon.shape)
    return grid_to_image(torch.cat([as_unit_float(x), recon]), nrow=len(x))


@torch.no_grad()
def interpolation_panel(ali: nn.Module, x1: torch.Tensor, x2: torch.Tensor, steps: int,
                        device: torch.device) -> np.ndarray:
    """Rows x1, Gx((1 - t) mu(x1) + t mu(x2)) for `steps` values of t in [0, 1], x2."""
    a, b = as_unit_float(x1), as_unit_float(x2)
    # The encoder's mean: eps is zero, so no random draw is needed.
    mu1 = ali.encoder(a.to(device), torch.zeros(len(a), ali.z_dim, device=device)).mu
    mu2 = ali.encoder(b.to(device), torch.zeros(len(b), ali.z_dim, device=device)).mu
    t = torch.linspace(0, 1, steps, device=device).view(1, steps, 1)
    z = (1 - t) * mu1[:, None] + t * mu2[:, None]  # (pairs, steps, z_dim)
    middle = ali.code_decoder(z.flatten(0, 1)).cpu().unflatten(0, (len(a), steps))
    rows = torch.cat([a[:, None], middle, b[:, None]], dim=1)  # (pairs, steps + 2, C, H, W)
    return grid_to_image(rows.flatten(0, 1), nrow=steps + 2)


def scatter_panel(samples: torch.Tensor, real: torch.Tensor, size_px: int = 480) -> np.ndarray:
    """2-D samples (orange) over real points (blue), as a uint8 (H, W, 3) image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size_px / 100, size_px / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(real[:, 0], real[:, 1], s=2, alpha=0.4, label="real")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
