"""The encoder's metrics: a linear probe (probe_acc) and 1-nearest-neighbour accuracy (knn_acc)
on encoder means, each with its random-encoder baseline.

probe_acc is the ALI paper's semi-supervised view of the encoder: with `per_class` labels per
class, how well does a logistic regression on mu(x) classify the test split? Fixed label draws
make it deterministic; the spread over draws is reported beside the mean. knn_acc is a
label-free view: if same-class inputs land near each other in z, the nearest training encoding
carries the right label. The baselines (`probe_acc_random`, `knn_acc_random`) score a randomly
initialised encoder of the same architecture: what the architecture gives before any training.

This module loads without torch (the report reads its declarations): the encodings come from the
context, and torch is imported where a distance is computed.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from benchmark.evaluation.declarations import METRICS, Baseline, Metric, MetricKey

if TYPE_CHECKING:
    import torch

    from benchmark.evaluation.context import EvalContext

KEY_PROBE_ACC = "probe_acc"
KEY_PROBE_ACC_STD = "probe_acc_std"
KEY_PROBE_ACC_RANDOM = "probe_acc_random"
KEY_KNN_ACC = "knn_acc"
KEY_KNN_ACC_RANDOM = "knn_acc_random"
_CHUNK = 1024  # test rows per distance matrix, to bound memory
RANDOM_ENCODER = "random-encoder baseline"


def fit_and_score(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                  test_y: torch.Tensor) -> float:
    """Test accuracy of a standardised L2 logistic regression fitted on the labelled features.

    NaN when the features are not finite (a diverging encoder), which sklearn would reject.
    """
    if not (train_x.isfinite().all() and test_x.isfinite().all()):
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


def nearest_neighbour(train: torch.Tensor, test: torch.Tensor,
                      device: torch.device | None = None) -> torch.Tensor:
    """Index into `train` of the Euclidean nearest neighbour of every row of `test` (computed
    on `device`, the run's, in float64; the indices come back on the CPU)."""
    import torch  # only when computing: the declarations below load without it

    train, test = train.to(device).double(), test.to(device).double()
    return torch.cat([torch.cdist(test[i : i + _CHUNK], train).argmin(dim=1)
                      for i in range(0, len(test), _CHUNK)]).cpu()


def knn_accuracy(train_feats: torch.Tensor, train_y: torch.Tensor, test_feats: torch.Tensor,
                 test_y: torch.Tensor, device: torch.device | None = None) -> dict[str, float]:
    """Fraction of test rows whose nearest training row has the same label."""
    predicted = train_y[nearest_neighbour(train_feats, test_feats, device)]
    return {KEY_KNN_ACC: (predicted == test_y).double().mean().item()}


def probe(ctx: EvalContext) -> dict[str, float]:
    """The `probe` metric on the fixed label draws and test inputs."""
    inputs = ctx.inputs
    draws = [(ctx.means(inputs.train_x(idx)), inputs.data.train.y[idx])
             for idx in inputs.probe_draws]
    return probe_accuracy(draws, ctx.test_means(), inputs.data.test.y[inputs.test])


def knn(ctx: EvalContext) -> dict[str, float]:
    """The `knn` metric on the fixed training encodings and test inputs."""
    inputs = ctx.inputs
    train = ctx.means(inputs.train_x(inputs.knn_train))
    return knn_accuracy(train, inputs.data.train.y[inputs.knn_train], ctx.test_means(),
                        inputs.data.test.y[inputs.test], ctx.device)


def probe_random(ctx: EvalContext) -> dict[str, float]:
    """probe_acc of the random encoder (nothing when the run cannot build one)."""
    return {} if ctx.encoder is None else {KEY_PROBE_ACC_RANDOM: probe(ctx)[KEY_PROBE_ACC]}


def knn_random(ctx: EvalContext) -> dict[str, float]:
    """knn_acc of the random encoder (nothing when the run cannot build one)."""
    return {} if ctx.encoder is None else {KEY_KNN_ACC_RANDOM: knn(ctx)[KEY_KNN_ACC]}


METRICS.register("probe", Metric(
    probe, kinds=("image",), needs_labels=True, counts=("probe_test_count",),
    keys=(MetricKey(KEY_PROBE_ACC, higher_is_better=True,
                    baseline=Baseline(KEY_PROBE_ACC_RANDOM, RANDOM_ENCODER)),),
    baseline=probe_random))
METRICS.register("knn", Metric(
    knn, kinds=("image",), needs_labels=True, counts=("probe_test_count", "knn_train_count"),
    keys=(MetricKey(KEY_KNN_ACC, higher_is_better=True,
                    baseline=Baseline(KEY_KNN_ACC_RANDOM, RANDOM_ENCODER)),),
    baseline=knn_random))
