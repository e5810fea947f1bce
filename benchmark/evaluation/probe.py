"""probe_acc: a linear probe on encoder means, from a few labelled images per class.

The ALI paper's semi-supervised view of the encoder: with `per_class` labels per class, how well
does a logistic regression on mu(x) classify the test split? Fixed label draws make it
deterministic; the spread over draws is reported beside the mean.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

KEY_PROBE_ACC = "probe_acc"
KEY_PROBE_ACC_STD = "probe_acc_std"


def draw_per_class(y: torch.Tensor, per_class: int, generator: torch.Generator) -> torch.Tensor:
    """`per_class` distinct indices of each label in y (all of a class if it has fewer)."""
    picks = []
    for label in torch.unique(y).tolist():
        members = torch.nonzero(y == label).flatten()
        picks.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(picks)


def fit_and_score(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                  test_y: torch.Tensor) -> float:
    """Test accuracy of a standardised L2 logistic regression fitted on the labelled features.

    NaN when the features are not finite (a diverging encoder), which sklearn would reject.
    """
    if not (torch.isfinite(train_x).all() and torch.isfinite(test_x).all()):
        return float("nan")
    from sklearn.exceptions import ConvergenceWarning  # a second to import: only when fitting
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x.double().numpy())
    clf = LogisticRegression(max_iter=1000)
    with warnings.catch_warnings():
        # An untrained encoder can give near-constant features; the score still means something.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scaler.transform(train_x.double().numpy()), train_y.numpy())
    predicted = clf.predict(scaler.transform(test_x.double().numpy()))
    return float(np.mean(predicted == test_y.numpy()))


def probe_accuracy(draws: list[tuple[torch.Tensor, torch.Tensor]], test_x: torch.Tensor,
                   test_y: torch.Tensor) -> dict[str, float]:
    """Mean and standard deviation of the probe's test accuracy over labelled draws (feats, y)."""
    scores = [fit_and_score(x, y, test_x, test_y) for x, y in draws]
    return {KEY_PROBE_ACC: float(np.mean(scores)), KEY_PROBE_ACC_STD: float(np.std(scores))}
