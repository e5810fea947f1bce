"""The Evaluator: every metric's keys, untouched RNG and modes, config errors, cached baselines."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
import torch
from eval_models import tiny_ali, tiny_encoder

from benchmark.data import DATASETS, DataBundle
from benchmark.errors import ConfigError
from benchmark.evaluation import METRICS, EvalConfig, validate_eval_config
from benchmark.evaluation.declarations import Baseline, MetricKey
from benchmark.evaluation.evaluator import Evaluator

IMAGE_METRICS = ["recon_mse", "fid", "probe", "knn", "recon_acc"]
MNIST = DATASETS["mnist"]
SOURCE_OF = {"image": MNIST, "points": DATASETS["mixture25"]}
IMAGE_KEYS = {
    "recon_mse", "recon_mse_mean", "fid_classifier", "kid_classifier", "kid_classifier_std",
    "is_classifier", "is_classifier_std", "probe_acc", "probe_acc_std", "knn_acc", "recon_acc",
}


@pytest.fixture
def full(small_mnist, small_cfg, trained_small_classifier):
    cfg = dataclasses.replace(small_cfg, metrics=IMAGE_METRICS)
    return Evaluator(cfg, small_mnist, torch.device("cpu"), tiny_encoder, seed=0)


def test_every_image_metric_gives_its_keys_as_floats(full):
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)  # as training runs
    try:
        out = full.evaluate(tiny_ali())
    finally:
        torch.use_deterministic_algorithms(deterministic)
    assert set(out) == IMAGE_KEYS
    assert all(type(v) is float and math.isfinite(v) for v in out.values()), out
    assert set(full.baselines()) == {"recon_mse_mean_image", "probe_acc_random",
                                     "knn_acc_random", "classifier_test_acc",
                                     "gaussian_fid_classifier", "gaussian_kid_classifier",
                                     "gaussian_is_classifier"}


def test_evaluation_leaves_the_training_rng_stream_and_modes_alone(full):
    ali = tiny_ali()
    ali.train()
    ali.discriminator.eval()  # a mixed state must come back as it was
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.manual_seed(123)
    full.evaluate(ali)
    full.panels(ali)
    assert torch.equal(torch.rand(5), expected)
    assert ali.encoder.training and ali.decoder.training and not ali.discriminator.training
    assert all(m.training for m in ali.encoder.modules())


def test_evaluation_does_not_change_the_weights_or_batch_norm_statistics(full):
    ali = tiny_ali()
    ali.train()
    before = {k: v.clone() for k, v in ali.state_dict().items()}
    full.evaluate(ali)
    assert all(torch.equal(before[k], v) for k, v in ali.state_dict().items())


def test_the_same_weights_give_the_same_numbers(full):
    assert full.evaluate(tiny_ali(seed=3)) == full.evaluate(tiny_ali(seed=3))


def test_baselines_are_cached_on_disk_per_data_and_settings(small_mnist, small_cfg, tmp_path):
    cfg = dataclasses.replace(small_cfg, metrics=["recon_mse", "knn"], cache_dir=str(tmp_path))
    first = Evaluator(cfg, small_mnist, torch.device("cpu"), tiny_encoder, seed=0).baselines()
    (path,) = (tmp_path / "baselines").iterdir()
    assert json.loads(path.read_text()) == first
    path.write_text(json.dumps({**first, "knn_acc_random": -1.0}))  # proves it is read back
    again = Evaluator(cfg, small_mnist, torch.device("cpu"), tiny_encoder, seed=0).baselines()
    assert again["knn_acc_random"] == -1.0
    other_seed = Evaluator(cfg, small_mnist, torch.device("cpu"), tiny_encoder, seed=1)
    assert other_seed.baselines()["knn_acc_random"] != -1.0  # another key, another file
    assert len(list((tmp_path / "baselines").iterdir())) == 2


def test_a_metric_that_gains_a_baseline_does_not_read_the_old_cache(small_mnist, small_cfg,
                                                                     tmp_path):
    """A cache written before a metric declared another baseline (the FID's pixel-Gaussian came
    later) would hide the new key; the declared baseline keys are part of the file's key."""
    cfg = dataclasses.replace(small_cfg, metrics=["recon_mse"], cache_dir=str(tmp_path))
    Evaluator(cfg, small_mnist, torch.device("cpu"), tiny_encoder, seed=0).baselines()
    old = METRICS.get("recon_mse")
    extra = MetricKey("recon_mse_extra", higher_is_better=False,
                      baseline=Baseline("recon_mse_extra_baseline", "an added baseline"))

    def baseline(ctx):
        return {**old.baseline(ctx), "recon_mse_extra_baseline": 1.0}

    METRICS.unregister("recon_mse")
    try:
        METRICS.register("recon_mse", dataclasses.replace(old, keys=(*old.keys, extra),
                                                          baseline=baseline))
        again = Evaluator(cfg, small_mnist, torch.device("cpu"), tiny_encoder, seed=0)
        assert again.baselines()["recon_mse_extra_baseline"] == 1.0
    finally:
        METRICS.unregister("recon_mse")
        METRICS.register("recon_mse", old)
    assert len(list((tmp_path / "baselines").iterdir())) == 2


def test_without_a_random_encoder_factory_the_encoder_baselines_are_skipped(small_mnist,
                                                                            small_cfg):
    cfg = dataclasses.replace(small_cfg, metrics=["knn"])
    assert Evaluator(cfg, small_mnist, torch.device("cpu")).baselines() == {}


BAD_CONFIGS = [
    ({"metrics": ["fid", "recon_msee"]}, "image",
     r"^eval\.metrics: unknown value 'recon_msee'; choose from: fid, knn, modes, prdc, probe, "
     r"recon_acc, recon_mse$"),
    ({"metrics": ["modes"]}, "image",
     r"^eval\.metrics: 'modes' does not apply to image data; choose from: .*recon_mse"),
    ({"metrics": ["fid"]}, "points",
     r"^eval\.metrics: 'fid' does not apply to points data; choose from: modes, recon_mse$"),
    ({"metrics": ["recon_mse", "recon_mse"]}, "image", r"^eval\.metrics: .* names a metric twice"),
    ({"metrics": ["fid"], "fid_extractor": "vgg"}, "image",
     r"^eval\.fid_extractor: unknown value 'vgg'; choose from: classifier, inception-v3-compat$"),
    ({"metrics": ["fid"], "kid_subset_size": 500, "fid_gen_count": 400}, "image",
     r"^eval\.kid_subset_size: 500 exceeds the smaller FID sample count 400"),
]


@pytest.mark.parametrize(("changes", "kind", "message"), BAD_CONFIGS)
def test_impossible_settings_are_one_line_config_errors(changes, kind, message):
    with pytest.raises(ConfigError, match=message) as err:
        validate_eval_config(EvalConfig(**changes), SOURCE_OF[kind])
    assert "\n" not in str(err.value)


def test_label_metrics_are_refused_on_unlabelled_data():
    with pytest.raises(ConfigError, match=r"^eval\.metrics: 'probe' needs class labels"):
        validate_eval_config(EvalConfig(metrics=["probe"]), MNIST, labelled=False)
    with pytest.raises(ConfigError, match=r"^eval\.fid_extractor: 'classifier' .* choose from: "
                                          r"inception-v3-compat$"):
        validate_eval_config(EvalConfig(metrics=["fid"]), MNIST, labelled=False)
    validate_eval_config(EvalConfig(metrics=["recon_mse"]), MNIST, labelled=False)


def test_unlabelled_data_is_detected_by_the_evaluator(small_mnist, small_cfg):
    unlabelled = DataBundle(
        dataclasses.replace(small_mnist.train, y=torch.zeros_like(small_mnist.train.y)),
        small_mnist.test, small_mnist.image_shape, small_mnist.kind)
    with pytest.raises(ConfigError, match="'knn' needs class labels"):
        Evaluator(dataclasses.replace(small_cfg, metrics=["knn"]), unlabelled, torch.device("cpu"))


def test_counts_beyond_the_split_are_config_errors(small_mnist, small_cfg):
    cfg = dataclasses.replace(small_cfg, metrics=["recon_mse"], recon_count=1001)
    with pytest.raises(ConfigError, match=re.escape(
            "eval.recon_count: 1001 exceeds the 1000 test samples of this dataset; "
            "choose from: 1..1000")):
        Evaluator(cfg, small_mnist, torch.device("cpu"))
    cfg = dataclasses.replace(small_cfg, metrics=["knn"], knn_train_count=5000)
    with pytest.raises(ConfigError, match=r"^eval\.knn_train_count: 5000 exceeds the 4000 train"):
        Evaluator(cfg, small_mnist, torch.device("cpu"))


def test_a_plugin_metric_declares_the_counts_it_reads_and_they_are_checked(small_mnist,
                                                                           small_cfg):
    """A metric's `counts` are checked like the built-ins': a count beyond its split is refused
    before the run, not silently cut to the split."""
    from benchmark.evaluation import Metric, MetricKey

    with pytest.raises(ValueError, match="counts"):
        METRICS.register("bad_counts", Metric(lambda ctx: {}, kinds=("image",), counts=("n",),
                                              keys=(MetricKey("bad", higher_is_better=True),)))
    METRICS.register("test_reader", Metric(lambda ctx: {}, kinds=("image",),
                                           counts=("knn_train_count",),
                                           keys=(MetricKey("reader", higher_is_better=True),)))
    try:
        cfg = dataclasses.replace(small_cfg, metrics=["test_reader"], knn_train_count=5000)
        with pytest.raises(ConfigError, match=r"^eval\.knn_train_count: 5000 exceeds the 4000"):
            Evaluator(cfg, small_mnist, torch.device("cpu"))
    finally:
        METRICS.unregister("test_reader")


def test_every_setting_has_help_and_registry_choices():
    fields = {f.name: f for f in dataclasses.fields(EvalConfig)}
    assert all(f.metadata.get("help") for f in fields.values())
    assert fields["metrics"].metadata["choices"]() == METRICS.names()
    assert fields["fid_extractor"].metadata["choices"]() == ["classifier", "inception-v3-compat"]
    assert fields["cache_dir"].metadata["in_key"] is False
    assert fields["weights_path"].metadata["in_key"] is False


def _protocol(small_mnist, bn_stats: str, seed: int = 0):
    from benchmark.batch_norm import ScoringProtocol, StatisticsBatches

    statistics = StatisticsBatches(small_mnist.train.x, 100, 3, 16, seed, torch.device("cpu"))
    return ScoringProtocol(bn_stats, statistics)


@pytest.mark.parametrize("bn_stats", ["recomputed", "running"])
def test_the_random_encoder_is_scored_through_the_models_protocol(small_mnist, small_cfg,
                                                                   tmp_path, bn_stats):
    """probe_acc_random and knn_acc_random are what the model path gives an ALI whose encoder
    is that random encoder, at step 0: one scoring function for both, so they cannot drift."""
    from benchmark.evaluation.evaluator import random_encoder

    cfg = dataclasses.replace(small_cfg, metrics=["probe", "knn"], cache_dir=str(tmp_path))
    protocol = _protocol(small_mnist, bn_stats)
    evaluator = Evaluator(cfg, small_mnist, torch.device("cpu"), tiny_encoder, seed=0,
                          protocol=protocol)
    baselines = evaluator.baselines()
    ali = tiny_ali()
    ali.encoder.load_state_dict(random_encoder(tiny_encoder, 0, torch.device("cpu")).state_dict())
    model_path = evaluator.evaluate(protocol.ali(ali, 0))
    assert baselines["probe_acc_random"] == model_path["probe_acc"]
    assert baselines["knn_acc_random"] == model_path["knn_acc"]
    if bn_stats == "recomputed":  # the models' protocol is not the encoder as built
        as_built = evaluator.evaluate(ali)
        assert as_built["knn_acc"] != model_path["knn_acc"]


def test_the_baseline_cache_is_keyed_by_the_scoring_protocol(small_mnist, small_cfg, tmp_path):
    cfg = dataclasses.replace(small_cfg, metrics=["knn"], cache_dir=str(tmp_path))
    scores = {}
    for bn_stats in ("running", "recomputed"):
        evaluator = Evaluator(cfg, small_mnist, torch.device("cpu"), tiny_encoder, seed=0,
                              protocol=_protocol(small_mnist, bn_stats))
        scores[bn_stats] = evaluator.baselines()["knn_acc_random"]
    assert len(list((tmp_path / "baselines").glob("*.json"))) == 2
    assert scores["running"] != scores["recomputed"]
