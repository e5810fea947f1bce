"""A metric with a curve, in one file: `recon_l1`, the mean absolute reconstruction error on the
fixed held-out inputs, with its step-0 mean-image baseline. Importing the module registers it
(`--plugin lab_metric`): `eval.metrics: [recon_l1]` is then valid, runs log it at every
evaluation, the summary has its columns beside its baseline's, and the report draws its curve
against gradient evaluations; as a study's headline (`headline: recon_l1`, `--headline
recon_l1`) also against steps, CPU time and the learning rate, named by its `title`."""

import torch

from benchmark.evaluation import METRICS, Baseline, Metric, MetricKey


def recon_l1(ctx) -> dict[str, float]:
    x = ctx.recon_x()
    return {"recon_l1": (ctx.reconstructions().sample - x).abs().mean().item()}


def mean_image_l1(ctx) -> dict[str, float]:
    inputs, x = ctx.inputs, ctx.recon_x()
    mean = inputs.train_x(torch.arange(len(inputs.data.train))).mean(dim=0, keepdim=True)
    return {"recon_l1_mean_image": (mean - x).abs().mean().item()}


METRICS.register("recon_l1", Metric(
    recon_l1, kinds=("image", "points"), baseline=mean_image_l1, counts=("recon_count",),
    keys=(MetricKey("recon_l1", higher_is_better=False, title="Reconstruction L1",
                    about=" on held-out images",
                    baseline=Baseline("recon_l1_mean_image", "mean-image L1 baseline")),)))
