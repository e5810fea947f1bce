"""FID/KID/IS through torch-fidelity's real `calculate_metrics` with the classifier extractor."""

from __future__ import annotations

import math

import torch

from benchmark.evaluation.context import to_uint8_rgb
from benchmark.evaluation.fidelity import (
    FEATURE_EXTRACTORS,
    UInt8Images,
    fidelity_metrics,
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
