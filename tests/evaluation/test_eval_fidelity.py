"""FID/KID/IS through torch-fidelity's real `calculate_metrics` with the classifier extractor."""

from __future__ import annotations

import dataclasses
import math

import torch

from benchmark.evaluation.context import to_uint8_rgb
from benchmark.evaluation.evaluator import Evaluator
from benchmark.evaluation.extractors import FEATURE_EXTRACTORS
from benchmark.evaluation.features import UInt8Images
from benchmark.evaluation.fidelity import (
    fidelity_metrics,
    pixel_gaussian,
    result_keys,
)

N = 300


def _fid(generated, real, classifier, kid_subset_size=50):
    return fidelity_metrics(generated, real, FEATURE_EXTRACTORS.get("classifier"),
                            str(classifier.path), kid_subset_size)


def test_to_uint8_rgb_repeats_gray_and_quantises_only_here():
    x = torch.tensor([0.0, 0.5, 1.0, 1.2]).view(1, 1, 2, 2)
    out = to_uint8_rgb(x)
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 2, 2)
    assert out[0, :, 0, 1].tolist() == [128, 128, 128]  # round(127.5) -> 128
    assert out[0, 0].flatten().tolist() == [0, 128, 255, 255]  # clamped to [0, 1] first
    u8 = torch.randint(0, 256, (2, 1, 3, 3), dtype=torch.uint8)
    assert torch.equal(to_uint8_rgb(u8)[:, 2:], u8)  # uint8 passes through unchanged


def test_dataset_yields_uint8_three_channel_images(small_mnist):
    ds = UInt8Images(small_mnist.test.x[:5].float() / 255)
    assert len(ds) == 5
    assert ds[0].dtype == torch.uint8 and ds[0].shape == (3, 28, 28)
    assert torch.equal(ds[3][1], small_mnist.test.x[3, 0])  # exact round trip


def test_fid_of_a_set_with_itself_is_near_zero_and_grows_with_difference(
        small_mnist, trained_small_classifier):
    a = small_mnist.test.x[:N]
    b = small_mnist.test.x[N : 2 * N]  # same distribution, other images
    inverted = 255 - a  # clearly different images
    same = _fid(a, a, trained_small_classifier)
    close = _fid(a, b, trained_small_classifier)
    far = _fid(inverted, a, trained_small_classifier)
    assert set(same) == set(result_keys("classifier"))
    assert abs(same["fid_classifier"]) < 1e-3 * far["fid_classifier"], (same, far)
    assert same["fid_classifier"] < close["fid_classifier"] < far["fid_classifier"], (close, far)
    # KID is unbiased: around zero (either sign) for one distribution, large for two.
    assert abs(same["kid_classifier"]) < 0.01 * far["kid_classifier"], (same, far)
    assert abs(close["kid_classifier"]) < 0.01 * far["kid_classifier"], (close, far)
    assert all(math.isfinite(v) for v in {**same, **close, **far}.values())


def test_inception_score_of_real_digits_is_high_and_of_one_image_is_one(
        small_mnist, trained_small_classifier):
    real = small_mnist.test.x[:N]
    varied = _fid(real, real, trained_small_classifier)["is_classifier"]
    one = _fid(real[:1].expand(N, -1, -1, -1), real, trained_small_classifier)["is_classifier"]
    assert 4.0 < varied <= 10.0, varied  # ten balanced classes, fairly confidently classified
    assert abs(one - 1.0) < 1e-6, one  # identical predictions: KL to the marginal is zero


def test_the_pixel_gaussian_keeps_each_pixels_mean_and_spread_and_drops_the_rest():
    g = torch.Generator().manual_seed(1)
    shared = torch.randn(5000, 1, 1, 1, generator=g)  # what makes the data's pixels correlate
    centre = torch.linspace(0.3, 0.7, 16).view(1, 1, 4, 4)
    spread = torch.linspace(0.02, 0.08, 16).view(1, 1, 4, 4)
    x = centre + spread * (shared + 0.5 * torch.randn(5000, 1, 4, 4, generator=g)) / 1.118
    drawn = pixel_gaussian(x, 20000, torch.Generator().manual_seed(0))
    assert drawn.shape == (20000, 1, 4, 4) and drawn.dtype == torch.float32
    assert torch.allclose(drawn.mean(0), x.mean(0), atol=0.003)
    assert torch.allclose(drawn.std(0), x.std(0), rtol=0.03)
    corr = torch.corrcoef(torch.stack([drawn[:, 0, 0, 0], drawn[:, 0, 3, 3]]))[0, 1]
    data_corr = torch.corrcoef(torch.stack([x[:, 0, 0, 0], x[:, 0, 3, 3]]))[0, 1]
    assert data_corr > 0.7 and abs(corr) < 0.03, (data_corr, corr)
    again = pixel_gaussian(x, 20000, torch.Generator().manual_seed(0))
    assert torch.equal(drawn, again)
    bright = pixel_gaussian(torch.ones(10, 1, 2, 2) * 0.99 + torch.rand(10, 1, 2, 2) * 0.2, 100,
                            torch.Generator().manual_seed(0))
    assert bright.max() <= 1.0  # clipped to the model's range


def test_the_fid_baseline_is_a_pixel_gaussian_that_real_images_beat(
        small_mnist, small_cfg, trained_small_classifier):
    cfg = dataclasses.replace(small_cfg, metrics=["fid"])
    baselines = Evaluator(cfg, small_mnist, torch.device("cpu")).baselines()
    assert set(baselines) == {"gaussian_fid_classifier", "gaussian_kid_classifier",
                              "gaussian_is_classifier", "classifier_test_acc"}
    real = small_mnist.test.x[:N]
    held_out = _fid(small_mnist.test.x[N : 2 * N], real, trained_small_classifier)
    assert held_out["fid_classifier"] < 0.2 * baselines["gaussian_fid_classifier"], baselines
    assert held_out["kid_classifier"] < baselines["gaussian_kid_classifier"], baselines
    assert held_out["is_classifier"] > baselines["gaussian_is_classifier"], baselines
