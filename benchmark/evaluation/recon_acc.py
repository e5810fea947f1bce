"""recon_acc: how often the dataset's classifier gives Gx(Gz(x)) the label of x.

Pixel MSE rewards blurry averages; this asks whether a reconstruction kept what x depicts.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.evaluation.classifier import predict_labels

KEY_RECON_ACC = "recon_acc"


def reconstruction_accuracy(classifier: nn.Module, recon: torch.Tensor, y: torch.Tensor,
                            batch_size: int = 1000) -> dict[str, float]:
    """Fraction of reconstructions (float in [0, 1]) classified as the label y of their input."""
    hits = predict_labels(classifier, recon, batch_size).cpu() == y.cpu()
    return {KEY_RECON_ACC: hits.double().mean().item()}
