"""recon_mse, its mean-image baseline, and recon_acc on real MNIST."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from eval_models import identity_ali, tiny_ali

from benchmark.evaluation.classifier import classifier_accuracy
from benchmark.evaluation.context import mean_input
from benchmark.evaluation.evaluator import Evaluator
from benchmark.evaluation.reconstruction import mean_image_mse, mean_squared_error


def test_mean_squared_error_is_per_element():
    a = torch.zeros(2, 1, 2, 2)
    b = torch.zeros(2, 1, 2, 2)
    b[0, 0, 0, 0] = 1.0  # one of 8 elements off by 1
    assert mean_squared_error(a, b) == pytest.approx(1 / 8)


def test_identity_reconstructs_exactly_and_a_random_decoder_does_not(small_mnist, small_cfg):
    evaluator = Evaluator(small_cfg, small_mnist, torch.device("cpu"))
    assert evaluator.evaluate(identity_ali()) == {"recon_mse": 0.0, "recon_mse_mean": 0.0}
    out = evaluator.evaluate(tiny_ali())
    base = evaluator.baselines()["recon_mse_mean_image"]
    assert out["recon_mse"] > base > 0.0, (out, base)  # an untrained decoder is worse than the mean
    assert evaluator.evaluate(tiny_ali()) == out  # fixed inputs and fixed encoder noise


def test_mean_image_baseline_by_hand(small_mnist):
    x = small_mnist.test.x[:50].float() / 255
    mean = small_mnist.train.x.double().mean(dim=0, keepdim=True) / 255
    expected = (x.double() - mean).pow(2).mean().item()
    got = mean_image_mse(mean_input(small_mnist.train.x, chunk=999), x)["recon_mse_mean_image"]
    assert got == pytest.approx(expected, rel=1e-6)  # pixels pass through float32 on the way


def test_recon_acc_of_identity_equals_classifier_test_accuracy(small_mnist, small_cfg,
                                                               trained_small_classifier):
    # recon_count = the whole test split: the same images the classifier's accuracy is taken on.
    cfg = dataclasses.replace(small_cfg, metrics=["recon_acc"], recon_count=len(small_mnist.test))
    evaluator = Evaluator(cfg, small_mnist, torch.device("cpu"))
    out = evaluator.evaluate(identity_ali())
    assert out["recon_acc"] == pytest.approx(trained_small_classifier.test_acc, abs=1e-6)
    assert evaluator.baselines()["classifier_test_acc"] == trained_small_classifier.test_acc
    accuracy = classifier_accuracy(trained_small_classifier.model, small_mnist.test.x,
                                   small_mnist.test.y)
    assert out["recon_acc"] == pytest.approx(accuracy, abs=1e-6)


def test_recon_acc_of_an_untrained_model_is_near_chance(small_mnist, small_cfg,
                                                        trained_small_classifier):
    cfg = dataclasses.replace(small_cfg, metrics=["recon_acc"])
    out = Evaluator(cfg, small_mnist, torch.device("cpu")).evaluate(tiny_ali())
    assert out["recon_acc"] < 0.35, out
