"""modes_covered, high_quality_frac and modes_reverse_kl on hand-made samples of the mixtures."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from benchmark.data import DATASETS, DataBundle, DataConfig, Modes, load_dataset
from benchmark.data.mixture import MIXTURE25_CENTERS, MIXTURE25_STD, RING8_STD
from benchmark.errors import ConfigError
from benchmark.evaluation import EvalConfig, validate_eval_config
from benchmark.evaluation.evaluator import Evaluator
from benchmark.evaluation.modes import mode_coverage, nearest_centre, reverse_kl
from benchmark.models import ModelConfig, build_ali

STD = MIXTURE25_STD


def _around(centre: int, count: int, offset_std: float) -> torch.Tensor:
    """`count` points at `offset_std` standard deviations to the right of a centre."""
    return MIXTURE25_CENTERS[centre].repeat(count, 1) + torch.tensor([offset_std * STD, 0.0])


def test_modes_covered_counts_modes_with_enough_samples_within_three_std():
    samples = torch.cat([
        _around(0, 25, 0.0),  # covered
        _around(7, 20, 2.9),  # covered: exactly min_count, inside 3 std
        _around(12, 19, 1.0),  # 19 < 20: not covered
        _around(3, 30, 3.2),  # outside 3 std: neither covered nor high quality
        torch.tensor([[1.0, 1.0]]).repeat(6, 1),  # between four centres
    ])
    out = mode_coverage(samples, MIXTURE25_CENTERS, STD, min_count=20)
    assert out["modes_covered"] == 2.0
    assert out["high_quality_frac"] == pytest.approx((25 + 20 + 19) / 100)


def test_all_modes_covered_by_the_real_mixture_and_none_by_a_point():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(25).repeat(100)
    real = MIXTURE25_CENTERS[y] + STD * torch.randn(2500, 2, generator=g)
    out = mode_coverage(real, MIXTURE25_CENTERS, STD, min_count=20)
    assert out["modes_covered"] == 25.0 and out["high_quality_frac"] > 0.98
    collapsed = mode_coverage(torch.zeros(2500, 2), MIXTURE25_CENTERS, STD, min_count=20)
    assert collapsed["modes_covered"] == 1.0 and collapsed["high_quality_frac"] == 1.0
    # reverse KL of the mode histogram: ~0 for the real mixture, log 25 all on one mode
    assert out["modes_reverse_kl"] == pytest.approx(0.0, abs=1e-12)  # exactly 100 a mode
    assert collapsed["modes_reverse_kl"] == pytest.approx(math.log(25))


def test_reverse_kl_of_half_the_modes_is_log_2():
    nearest = torch.arange(4).repeat(50)  # 4 of 8 modes, evenly
    assert reverse_kl(nearest, 8) == pytest.approx(math.log(2))


def test_the_ring_is_pacgans_eight_gaussians_on_the_unit_circle():
    ring = load_dataset(DataConfig(dataset="ring8", test_subset=800), seed=0)
    assert ring.modes is not None and ring.modes.std == RING8_STD == 0.01
    radii = ring.modes.centres.norm(dim=1)
    assert torch.allclose(radii, torch.ones(8)) and len(ring.modes.centres) == 8
    out = mode_coverage(ring.test.x, ring.modes.centres, ring.modes.std, min_count=20)
    assert out["modes_covered"] == 8.0 and out["high_quality_frac"] > 0.98
    assert out["modes_reverse_kl"] < 0.01


def test_nearest_centre():
    idx, dist = nearest_centre(torch.tensor([[-3.9, -4.0], [4.0, 3.5]]), MIXTURE25_CENTERS)
    assert idx.tolist() == [0, 24]  # row-major grid: (-4, -4) first, (4, 4) last
    assert dist[0].item() == pytest.approx(0.1)


def test_evaluator_on_points_runs_modes_and_recon_and_draws_a_scatter(tmp_path):
    mixture = load_dataset(DataConfig(dataset="mixture25", test_subset=600), seed=0)
    data = DataBundle(mixture.train.take(torch.arange(2000)), mixture.test, None, mixture.kind,
                      mixture.modes)
    cfg = EvalConfig(metrics=["recon_mse", "modes"], recon_count=300, mode_sample_count=500,
                     probe_test_count=500, cache_dir=str(tmp_path))
    torch.manual_seed(0)
    ali = build_ali(ModelConfig(z_dim=2, hidden=32), (2,))
    evaluator = Evaluator(cfg, data, torch.device("cpu"))
    out = evaluator.evaluate(ali)
    assert set(out) == {"recon_mse", "recon_mse_mean", "modes_covered", "high_quality_frac",
                        "modes_reverse_kl"}
    assert 0.0 <= out["modes_covered"] <= 25.0
    assert set(evaluator.baselines()) == {"recon_mse_mean_image"}
    panels = evaluator.panels(ali)
    assert list(panels) == ["samples"]
    image = panels["samples"]
    assert image.dtype.name == "uint8" and image.ndim == 3 and image.shape[2] == 3
    assert image.std() > 0  # something was drawn
    again = dataclasses.replace(cfg, metrics=["modes"])
    assert Evaluator(again, data, torch.device("cpu")).evaluate(ali)["modes_covered"] == out[
        "modes_covered"]


def _points(modes: Modes | None) -> DataBundle:
    """Mixture points under another dataset's name: only its declared modes differ."""
    mixture = load_dataset(DataConfig(dataset="mixture25", train_subset=500, test_subset=300),
                           seed=0)
    return DataBundle(mixture.train, mixture.test, None, mixture.kind, modes)


def test_the_modes_are_the_datasets_own(tmp_path):
    """The metric scores against the centres and spread the data declares, nothing built in."""
    assert DATASETS["mixture25"].modes.centres.shape == (25, 2)
    cfg = EvalConfig(metrics=["modes"], mode_sample_count=300, modes_min_count=1,
                     cache_dir=str(tmp_path))
    torch.manual_seed(0)
    ali = build_ali(ModelConfig(z_dim=2, hidden=32), (2,))
    far = _points(Modes(torch.tensor([[1e3, 1e3]]), 0.05))
    wide = _points(Modes(torch.tensor([[1e3, 1e3], [0.0, 0.0]]), 1e6))
    assert Evaluator(cfg, far, torch.device("cpu")).evaluate(ali) == {
        "modes_covered": 0.0, "high_quality_frac": 0.0, "modes_reverse_kl": 0.0}  # one mode
    assert Evaluator(cfg, wide, torch.device("cpu")).evaluate(ali) == {
        "modes_covered": 1.0, "high_quality_frac": 1.0,  # every sample is nearer (0, 0)
        "modes_reverse_kl": pytest.approx(math.log(2))}  # all on one of two modes


class _RingSource:
    """A points dataset whose source declares no modes."""

    kind, native_channels, labelled = "points", None, True


def test_points_data_without_modes_refuse_the_mode_metric_in_one_line(tmp_path):
    cfg = EvalConfig(metrics=["recon_mse", "modes"], cache_dir=str(tmp_path))
    message = (r"^eval\.metrics: 'modes' needs the modes \(centres and spread\) of the data, "
               r"which its source does not declare; choose from: recon_mse$")
    with pytest.raises(ConfigError, match=message):
        validate_eval_config(cfg, _RingSource())
    with pytest.raises(ConfigError, match=message):
        Evaluator(cfg, _points(None), torch.device("cpu"))
    validate_eval_config(cfg, DATASETS["mixture25"])
