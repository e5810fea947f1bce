"""recon_acc: how often the dataset's classifier gives Gx(Gz(x)) the label of x. Pixel MSE
rewards blurry averages; this asks whether a reconstruction kept what x depicts. Its ceiling,
logged beside it, is the classifier's own accuracy on the real test images.

The classifier is the evaluator's (`classifier.py`, trained once and cached); this module loads
without torch, so the report reads its declaration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.evaluation.declarations import METRICS, Baseline, Metric, MetricKey

if TYPE_CHECKING:
    import torch
    from torch import nn

    from benchmark.evaluation.context import EvalContext

KEY_RECON_ACC = "recon_acc"
KEY_CLASSIFIER_TEST_ACC = "classifier_test_acc"  # logged at step 0 by the Evaluator


def reconstruction_accuracy(classifier: nn.Module, recon: torch.Tensor, y: torch.Tensor,
                            batch_size: int = 1000) -> dict[str, float]:
    """Fraction of reconstructions (float in [0, 1]) classified as the label y of their input."""
    from benchmark.evaluation.classifier import predict_labels  # torch: only when computing

    hits = predict_labels(classifier, recon, batch_size).cpu() == y.cpu()
    return {KEY_RECON_ACC: hits.double().mean().item()}


def recon_acc(ctx: EvalContext) -> dict[str, float]:
    """The `recon_acc` metric on the fixed recon inputs."""
    inputs = ctx.inputs
    return reconstruction_accuracy(ctx.classifier(), ctx.reconstructions().sample,
                                   inputs.data.test.y[inputs.recon], ctx.settings.batch_size)


METRICS.register("recon_acc", Metric(
    recon_acc, kinds=("image",), needs_labels=True, uses_classifier=True,
    counts=("recon_count", "classifier_train_count"),
    keys=(MetricKey(KEY_RECON_ACC, higher_is_better=True,
                    baseline=Baseline(KEY_CLASSIFIER_TEST_ACC,
                                      "classifier's accuracy on real images", floor=False)),)))
