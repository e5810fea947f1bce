"""The built-in metrics, registered by name with the same `register_metric` a plug-in would use."""

from __future__ import annotations

from benchmark.evaluation.context import EvalContext
from benchmark.evaluation.feature_extractors import get_feature_extractor
from benchmark.evaluation.fidelity import fidelity_metrics
from benchmark.evaluation.knn import knn_accuracy
from benchmark.evaluation.modes import mode_coverage
from benchmark.evaluation.prdc import prdc_metrics
from benchmark.evaluation.probe import probe_accuracy
from benchmark.evaluation.recon_acc import reconstruction_accuracy
from benchmark.evaluation.reconstruction import reconstruction_mse
from benchmark.evaluation.registry import Metric, register_metric


def recon_mse(ctx: EvalContext) -> dict[str, float]:
    return reconstruction_mse(ctx.res.inputs.test_x(ctx.res.inputs.recon), ctx.reconstructions())


def fid(ctx: EvalContext) -> dict[str, float]:
    cfg = ctx.res.cfg
    generated = ctx.decoded(cfg.fid_gen_count, "fid_z")
    real = ctx.res.inputs.data.test.x[ctx.res.inputs.fid_real]
    return fidelity_metrics(generated, real, get_feature_extractor(cfg.fid_extractor),
                            ctx.res.fid_weights(), cfg.kid_subset_size, cfg.batch_size,
                            cuda=ctx.res.device.type == "cuda")


def prdc(ctx: EvalContext) -> dict[str, float]:
    cfg, inputs = ctx.res.cfg, ctx.res.inputs
    return prdc_metrics(ctx.decoded(cfg.fid_gen_count, "fid_z"), inputs.data.test.x,
                        inputs.fid_real, get_feature_extractor(cfg.fid_extractor),
                        ctx.res.fid_weights(), cfg.batch_size, ctx.res.device.type == "cuda")


def probe(ctx: EvalContext) -> dict[str, float]:
    inputs = ctx.res.inputs
    draws = [(ctx.means(inputs.train_x(idx)), inputs.data.train.y[idx])
             for idx in inputs.probe_draws]
    return probe_accuracy(draws, ctx.test_means(), inputs.data.test.y[inputs.test])


def knn(ctx: EvalContext) -> dict[str, float]:
    inputs = ctx.res.inputs
    train = ctx.means(inputs.train_x(inputs.knn_train))
    return knn_accuracy(train, inputs.data.train.y[inputs.knn_train], ctx.test_means(),
                        inputs.data.test.y[inputs.test])


def recon_acc(ctx: EvalContext) -> dict[str, float]:
    inputs = ctx.res.inputs
    return reconstruction_accuracy(ctx.res.classifier(), ctx.reconstructions().sample,
                                   inputs.data.test.y[inputs.recon], ctx.res.cfg.batch_size)


def modes(ctx: EvalContext) -> dict[str, float]:
    centres, std = ctx.res.mixture()
    samples = ctx.decoded(ctx.res.cfg.mode_sample_count, "modes_z")
    return mode_coverage(samples, centres, std, ctx.res.cfg.modes_min_count)


register_metric("recon_mse", Metric(recon_mse, kinds=("image", "points")))
register_metric("fid", Metric(fid, kinds=("image",), fid_features=True))
register_metric("prdc", Metric(prdc, kinds=("image",), fid_features=True))
register_metric("probe", Metric(probe, kinds=("image",), needs_labels=True))
register_metric("knn", Metric(knn, kinds=("image",), needs_labels=True))
register_metric("recon_acc", Metric(recon_acc, kinds=("image",), needs_labels=True))
register_metric("modes", Metric(modes, kinds=("points",)))
