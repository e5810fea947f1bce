"""The FID classifier: deterministic for its seed, accurate on real MNIST, cached, and registered
with torch-fidelity as a feature extractor."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from benchmark.evaluation import EvalConfig
from benchmark.evaluation.classifier import (
    ClassifierSettings,
    classifier_accuracy,
    load_or_train_classifier,
    train_classifier,
)
from benchmark.evaluation.evaluator import Evaluator
from benchmark.evaluation.extractors import CLASSIFIER_EXTRACTOR
from benchmark.evaluation.features import (
    FEATURE_LOGITS,
    FEATURE_PENULTIMATE,
    ClassifierFeatureExtractor,
)


def _settings(n: int, seed: int = 0, epochs: int = 1) -> ClassifierSettings:
    return ClassifierSettings(channels=1, image_size=28, num_classes=10, epochs=epochs,
                              train_count=n, seed=seed, min_updates=1)  # `epochs` it is


def test_training_is_deterministic_for_a_seed(small_mnist):
    x, y = small_mnist.train.x[:300], small_mnist.train.y[:300]
    a = train_classifier(x, y, _settings(300, seed=3)).state_dict()
    b = train_classifier(x, y, _settings(300, seed=3)).state_dict()
    c = train_classifier(x, y, _settings(300, seed=4)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), "same seed, different weights"
    assert not all(torch.equal(a[k], c[k]) for k in a), "the seed is ignored"


def test_training_leaves_the_global_rng_alone(small_mnist):
    state = torch.get_rng_state()
    train_classifier(small_mnist.train.x[:200], small_mnist.train.y[:200], _settings(200))
    assert torch.equal(state, torch.get_rng_state())


def test_session_classifier_is_useful_on_real_mnist(trained_small_classifier, small_mnist):
    # 4,000 training images: well above chance; the full set is checked by the slow test.
    assert trained_small_classifier.test_acc > 0.85
    acc = classifier_accuracy(trained_small_classifier.model, small_mnist.test.x,
                              small_mnist.test.y)
    assert acc == pytest.approx(trained_small_classifier.test_acc)


def test_cache_is_keyed_by_data_and_settings(trained_small_classifier, small_mnist, small_cfg):
    path = trained_small_classifier.path
    assert path.parent.name == "classifiers" and path.suffix == ".pt"
    mtime = path.stat().st_mtime_ns
    again = Evaluator(dataclasses.replace(small_cfg, metrics=["recon_acc"]), small_mnist,
                      torch.device("cpu")).trained_classifier()
    assert again.path == path and path.stat().st_mtime_ns == mtime  # loaded, not retrained
    assert again.test_acc == trained_small_classifier.test_acc
    other = ClassifierSettings(1, 28, 10, 2, 4000, 2016).digest("data-a")
    assert other != ClassifierSettings(1, 28, 10, 3, 4000, 2016).digest("data-a")
    assert other != ClassifierSettings(1, 28, 10, 2, 4000, 2016).digest("data-b")


def test_load_or_train_writes_the_checkpoint_atomically(tmp_path, small_mnist):
    x, y = small_mnist.train.x[:300], small_mnist.train.y[:300]
    path = tmp_path / "c" / "clf.pt"
    out = load_or_train_classifier(path, _settings(300), (x, y), (x, y))
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["clf.pt"]
    assert 0.0 <= out.test_acc <= 1.0


def test_feature_extractor_is_registered_and_gives_features_and_logits(
        trained_small_classifier, small_mnist):
    assert FEATURE_EXTRACTORS_REGISTRY[CLASSIFIER_EXTRACTOR] is ClassifierFeatureExtractor
    extractor = ClassifierFeatureExtractor(
        CLASSIFIER_EXTRACTOR, [FEATURE_PENULTIMATE, FEATURE_LOGITS],
        feature_extractor_weights_path=str(trained_small_classifier.path))
    x = small_mnist.test.x[:8].expand(-1, 3, -1, -1)
    features, logits = extractor(x.contiguous())
    assert features.shape == (8, 128) and logits.shape == (8, 10)
    expected = trained_small_classifier.model(small_mnist.test.x[:8].float() / 255)
    assert torch.allclose(logits, expected, atol=1e-5)
    assert ClassifierFeatureExtractor.get_default_feature_layer_for_metric("isc") == "logits"
    assert ClassifierFeatureExtractor.get_default_feature_layer_for_metric("fid") == "penultimate"


@pytest.mark.slow
def test_default_classifier_reaches_97_percent_on_full_mnist(mnist, tmp_path):
    # Its time is measured by bench/evaluation.py, not asserted here: tests share the CPUs.
    cfg = EvalConfig(metrics=["recon_acc"], cache_dir=str(tmp_path))
    trained = Evaluator(cfg, mnist, torch.device("cpu")).trained_classifier()
    assert trained.test_acc > 0.97, trained.test_acc
