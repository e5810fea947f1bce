"""knn_acc: 1-nearest-neighbour accuracy of test encodings against fixed training encodings.

A label-free view of the encoder: if same-class inputs land near each other in z, the nearest
training encoding carries the right label.
"""

from __future__ import annotations

import torch

KEY_KNN_ACC = "knn_acc"
_CHUNK = 1024  # test rows per distance matrix, to bound memory


def nearest_neighbour(train: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """Index into `train` of the Euclidean nearest neighbour of every row of `test`."""
    train, test = train.double(), test.double()
    return torch.cat([torch.cdist(test[i : i + _CHUNK], train).argmin(dim=1)
                      for i in range(0, len(test), _CHUNK)])


def knn_accuracy(train_feats: torch.Tensor, train_y: torch.Tensor, test_feats: torch.Tensor,
                 test_y: torch.Tensor) -> dict[str, float]:
    """Fraction of test rows whose nearest training row has the same label."""
    predicted = train_y[nearest_neighbour(train_feats, test_feats)]
    return {KEY_KNN_ACC: (predicted == test_y).double().mean().item()}
