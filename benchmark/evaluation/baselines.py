"""Baselines logged beside a run's own numbers, so every metric has a floor to be read against.

recon_mse_mean_image: the MSE of predicting the training mean for each held-out input.
probe_acc_random, knn_acc_random: the probe and 1-NN on a randomly initialised encoder of the same
architecture (what the architecture gives before any training). classifier_test_acc: the accuracy
of the classifier behind fid_classifier and recon_acc, i.e. how much its judgement is worth.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from benchmark.evaluation import builtin_metrics
from benchmark.evaluation.context import EvalContext, Resources
from benchmark.evaluation.knn import KEY_KNN_ACC
from benchmark.evaluation.probe import KEY_PROBE_ACC
from benchmark.evaluation.reconstruction import mean_image_mse, mean_input
from benchmark.evaluation.tensors import fork_rng

KEY_PROBE_ACC_RANDOM = "probe_acc_random"
KEY_KNN_ACC_RANDOM = "knn_acc_random"
KEY_CLASSIFIER_TEST_ACC = "classifier_test_acc"


def random_encoder(make_encoder: Callable[[], nn.Module], seed: int,
                   device: torch.device) -> nn.Module:
    """A freshly initialised encoder, from its own seed so the training RNG stream is untouched."""
    with fork_rng(device):
        torch.manual_seed(seed)
        encoder = make_encoder()
    return encoder.to(device).eval()


@torch.no_grad()
def compute_baselines(res: Resources, metrics: set[str],
                      encoder: nn.Module | None) -> dict[str, float]:
    """The baselines of the configured metrics; the encoder ones need a random `encoder`."""
    inputs, out = res.inputs, {}
    if "recon_mse" in metrics:
        out.update(mean_image_mse(mean_input(inputs.data.train.x), inputs.test_x(inputs.recon)))
    if encoder is not None:
        ctx = EvalContext(res, encoder)
        with fork_rng(res.device):  # the encoder draws its own (unused) noise
            if "probe" in metrics:
                out[KEY_PROBE_ACC_RANDOM] = builtin_metrics.probe(ctx)[KEY_PROBE_ACC]
            if "knn" in metrics:
                out[KEY_KNN_ACC_RANDOM] = builtin_metrics.knn(ctx)[KEY_KNN_ACC]
    return out
