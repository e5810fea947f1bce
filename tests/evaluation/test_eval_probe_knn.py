"""Linear probe and 1-NN on real MNIST: deterministic, above chance, and sane in their parts."""

from __future__ import annotations

import dataclasses

import torch
from eval_models import identity_ali, tiny_ali, tiny_encoder
from torch import nn

from benchmark.evaluation.context import draw_per_class
from benchmark.evaluation.evaluator import Evaluator, random_encoder
from benchmark.evaluation.probe import knn_accuracy, nearest_neighbour, probe_accuracy
from benchmark.models import ALI

CHANCE = 0.1


def _evaluator(small_mnist, small_cfg, **changes):
    cfg = dataclasses.replace(small_cfg, metrics=["probe", "knn"], **changes)
    return Evaluator(cfg, small_mnist, torch.device("cpu"), tiny_encoder, seed=0)


def test_probe_and_knn_on_pixels_are_deterministic_and_well_above_chance(small_mnist, small_cfg):
    # The identity encoder's means are the pixels: a known, strong representation.
    first = _evaluator(small_mnist, small_cfg).evaluate(identity_ali())
    second = _evaluator(small_mnist, small_cfg).evaluate(identity_ali())
    assert first == second
    assert first["probe_acc"] > 0.6, first  # 10 labels per class, logistic regression
    assert first["knn_acc"] > 0.8, first  # 1-NN among 1,000 training digits
    assert 0.0 < first["probe_acc_std"] < 0.1


def test_untrained_encoder_is_above_chance_and_matches_its_baseline(small_mnist, small_cfg):
    evaluator = _evaluator(small_mnist, small_cfg)
    out = evaluator.evaluate(tiny_ali(seed=5))
    base = evaluator.baselines()
    assert out["probe_acc"] > CHANCE + 0.1 and out["knn_acc"] > CHANCE + 0.1, out
    assert set(base) == {"probe_acc_random", "knn_acc_random"}
    assert base["probe_acc_random"] > CHANCE + 0.1 and base["knn_acc_random"] > CHANCE + 0.1
    # the baselines are the same measures on a random encoder seeded by the evaluator's seed
    encoder = random_encoder(tiny_encoder, seed=0, device=torch.device("cpu"))
    same = evaluator.evaluate(ALI(encoder, nn.Identity(), nn.Identity(), z_dim=16))
    assert same["knn_acc"] == base["knn_acc_random"]
    assert same["probe_acc"] == base["probe_acc_random"]


def test_draw_per_class_takes_that_many_of_each_label():
    y = torch.tensor([0, 1, 2] * 10 + [3])
    idx = draw_per_class(y, 4, torch.Generator().manual_seed(0))
    counts = torch.bincount(y[idx]).tolist()
    assert counts == [4, 4, 4, 1]  # a class with fewer members gives all it has
    assert len(set(idx.tolist())) == len(idx)


def test_probe_accuracy_separable_features_score_one_and_noise_scores_near_chance():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(4).repeat(25)
    separable = torch.nn.functional.one_hot(y, 4).double() + 0.01 * torch.randn(100, 4, generator=g)
    out = probe_accuracy([(separable[:40], y[:40])], separable[40:], y[40:])
    assert out == {"probe_acc": 1.0, "probe_acc_std": 0.0}
    noise = torch.randn(100, 4, generator=g)
    assert probe_accuracy([(noise[:40], y[:40])], noise[40:], y[40:])["probe_acc"] < 0.5


def test_probe_of_non_finite_features_is_nan_not_an_exception():
    y = torch.tensor([0, 1, 0, 1])
    bad = torch.tensor([[float("nan")], [1.0], [0.0], [1.0]])
    out = probe_accuracy([(bad, y)], bad, y)
    assert out["probe_acc"] != out["probe_acc"]


def test_nearest_neighbour_and_knn_accuracy_by_hand():
    train = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    test = torch.tensor([[1.0, 1.0], [9.0, 1.0], [1.0, 8.0], [6.0, 0.0]])
    assert nearest_neighbour(train, test).tolist() == [0, 1, 2, 1]
    out = knn_accuracy(train, torch.tensor([0, 1, 2]), test, torch.tensor([0, 1, 2, 0]))
    assert out == {"knn_acc": 0.75}
