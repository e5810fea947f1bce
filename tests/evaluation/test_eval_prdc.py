"""Improved precision/recall and density/coverage: the direction of torch-fidelity's precision
and recall (its issue #58), density/coverage against the authors' formulas written out, and the
metric on real MNIST through the classifier's FID features and the Evaluator."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from eval_models import tiny_ali, tiny_encoder

from benchmark.data import DATASETS
from benchmark.errors import ConfigError
from benchmark.evaluation import EvalConfig, validate_eval_config
from benchmark.evaluation.evaluator import Evaluator
from benchmark.evaluation.extractors import FEATURE_EXTRACTORS
from benchmark.evaluation.features import extract_features
from benchmark.evaluation.prdc import (
    density_coverage,
    heldout_indices,
    prdc_metrics,
    precision_recall,
    result_keys,
)

KEYS = ["precision_classifier_k3", "recall_classifier_k3", "density_classifier_k5",
        "coverage_classifier_k5"]


def two_modes(n: int = 200, seed: int = 0) -> torch.Tensor:
    """n points around (0, 0) followed by n points around (100, 0): two far-apart modes."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, 2, generator=g, dtype=torch.float64)
    b = torch.randn(n, 2, generator=g, dtype=torch.float64) + torch.tensor([100.0, 0.0])
    return torch.cat([a, b])


def test_precision_and_recall_are_not_swapped() -> None:
    """Generated = the real samples of one mode: all of them are realistic (precision 1) but
    they cover half the real ones (recall 0.5). Swapped inputs would read 0.5 and 1."""
    real = two_modes()
    collapsed = real[:200]
    assert precision_recall(collapsed, real) == (1.0, 0.5)
    assert precision_recall(real, collapsed) == (0.5, 1.0)  # what issue #58 would report
    # Generated spread over both modes plus far-off junk: recall stays 1, precision drops.
    junk = torch.randn(400, 2, generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64) * 5 + torch.tensor([50.0, 300.0])
    precision, recall = precision_recall(torch.cat([two_modes(seed=2), junk]), real)
    assert precision < 0.55 and recall > 0.95


def naeem_reference(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """generative-evaluation-prdc's compute_prdc (density and coverage), loops written out."""
    def dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    radii = np.sort(dist(real, real), axis=1)[:, k]  # k-th neighbour, index 0 is itself
    d = dist(real, fake)
    density = (1.0 / k) * (d < radii[:, None]).sum(axis=0).mean()
    coverage = (d.min(axis=1) < radii).mean()
    return float(density), float(coverage)


@pytest.mark.parametrize("k", [1, 5])
def test_density_and_coverage_follow_the_authors_formulas(k: int) -> None:
    g = torch.Generator().manual_seed(3)
    real = torch.randn(120, 8, generator=g, dtype=torch.float64)
    fake = torch.randn(90, 8, generator=g, dtype=torch.float64) * 1.3 + 0.2
    got = density_coverage(fake, real, k)
    np.testing.assert_allclose(got, naeem_reference(real.numpy(), fake.numpy(), k), rtol=1e-12)
    # One mode only: half the real samples covered; all samples from it sit in dense balls.
    density, coverage = density_coverage(two_modes()[:200], two_modes(), 5)
    assert coverage == 0.5 and density > 0.9
    with pytest.raises(ValueError, match="more than k=5 real samples"):
        density_coverage(fake, real[:5], 5)


def test_heldout_images_are_outside_the_real_set_and_fixed() -> None:
    real = torch.tensor([0, 3, 5])
    idx = heldout_indices(12, real, 4)
    assert len(idx) == 4 and not set(idx.tolist()) & {0, 3, 5}
    assert torch.equal(idx, heldout_indices(12, real, 4))
    assert heldout_indices(8, real, 4) is None  # 5 images left: too few for k = 5


def test_on_real_digits_one_class_is_precise_but_does_not_recall(small_mnist,
                                                                 trained_small_classifier):
    """In the classifier's FID features: other real test digits score like the held-out
    baseline; the digits of a single class keep their precision and lose recall and coverage."""
    test = small_mnist.test
    extractor, weights = FEATURE_EXTRACTORS.get("classifier"), str(trained_small_classifier.path)
    real_idx = torch.arange(300)
    other = test.x[300:600]
    ones = test.x[300:][test.y[300:] == 1][:100]
    same = prdc_metrics(other, test.x, real_idx, extractor, weights)
    one_class = prdc_metrics(ones, test.x, real_idx, extractor, weights)
    assert set(same) == {*KEYS, *(k + "_heldout" for k in KEYS)}
    assert all(type(v) is float and math.isfinite(v) for v in same.values())
    for key in ("precision_classifier_k3", "recall_classifier_k3", "coverage_classifier_k5"):
        assert same[key] > 0.6 and abs(same[key] - same[key + "_heldout"]) < 0.15, (key, same)
    assert one_class["precision_classifier_k3"] > 0.8
    assert one_class["recall_classifier_k3"] < 0.3 < same["recall_classifier_k3"]
    assert one_class["coverage_classifier_k5"] < 0.3 < same["coverage_classifier_k5"]
    features = extract_features(test.x[:10], extractor, weights)
    assert features.shape == (10, trained_small_classifier.model.head.in_features)


def test_the_evaluator_gives_prdc_and_its_baseline(small_mnist, small_cfg,
                                                   trained_small_classifier):
    cfg = dataclasses.replace(small_cfg, metrics=["prdc"])
    evaluator = Evaluator(cfg, small_mnist, torch.device("cpu"), tiny_encoder, seed=0)
    out = evaluator.evaluate(tiny_ali())
    assert result_keys("classifier") == KEYS
    assert set(out) == {*KEYS, *(k + "_heldout" for k in KEYS)}
    # An untrained decoder draws near-identical images: a collapsed sample. Precision cannot
    # see that (all of it may sit inside one real image's ball: 1.0 with the shift-trained
    # classifier), recall and coverage must (Naeem et al. 2020).
    for key in ("recall_classifier_k3", "coverage_classifier_k5"):
        assert out[key + "_heldout"] > 0.5 > out[key], (key, out)
    assert "classifier_test_acc" in evaluator.baselines()  # the classifier is its instrument


@pytest.mark.parametrize(("changes", "message"), [
    ({"fid_real_count": 5}, r"^eval.fid_real_count: 5 is too few for prdc's 5 nearest "
                            r"neighbours; choose at least 6$"),
    ({"fid_gen_count": 10, "fid_real_count": 4},
     r"^eval.fid_real_count: 4 is too few for prdc's 5"),
])
def test_too_few_samples_for_the_neighbourhoods_is_one_line(changes, message) -> None:
    cfg = EvalConfig(metrics=["prdc"], **changes)
    with pytest.raises(ConfigError, match=message):
        validate_eval_config(cfg, DATASETS["mnist"])
    validate_eval_config(EvalConfig(metrics=["fid"], kid_subset_size=4, **changes),
                         DATASETS["mnist"])


def test_prdc_on_unlabelled_data_needs_an_extractor_without_labels() -> None:
    with pytest.raises(ConfigError, match=r"^eval.fid_extractor: 'classifier' is trained on "
                                          r"class labels"):
        validate_eval_config(EvalConfig(metrics=["prdc"]), DATASETS["mnist"], labelled=False)
