"""The Inception-v3 path: real torch-fidelity plumbing with a weights file the test writes, and
one clear error when the weights are neither given nor in torch hub's cache."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from torch_fidelity.feature_extractor_inceptionv3 import (
    URL_INCEPTION_V3,
    FeatureExtractorInceptionV3,
)

from benchmark.errors import ConfigError, DataError
from benchmark.evaluation.evaluator import Evaluator
from benchmark.evaluation.extractors import (
    FEATURE_EXTRACTORS,
    WeightsSource,
    inception_cache_path,
    inception_weights,
)
from benchmark.evaluation.fidelity import fidelity_metrics


class _InceptionStructure(FeatureExtractorInceptionV3):
    """torch-fidelity's own network, left at its random initialisation instead of loading."""

    def load_state_dict(self, state_dict, strict=True, assign=False):
        return None


def write_random_inception_weights(folder: Path) -> Path:
    """A state dict in exactly the format torch-fidelity loads: its network's own keys/shapes."""
    empty = folder / "empty.pt"
    torch.save({}, empty)
    torch.manual_seed(0)
    net = _InceptionStructure("inception-v3-compat", ["2048"],
                              feature_extractor_weights_path=str(empty))
    path = folder / "weights-inception-random.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def empty_hub(tmp_path: Path):
    """Point torch hub at an empty folder: no cached download to fall back on."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield
    torch.hub.set_dir(previous)


@pytest.mark.slow
def test_inception_plumbing_with_a_written_weights_file(tmp_path, small_mnist):
    weights = write_random_inception_weights(tmp_path)
    extractor = FEATURE_EXTRACTORS.get("inception-v3-compat")
    path = inception_weights(WeightsSource(str(weights), lambda: Path("unused")))
    a, b = small_mnist.test.x[:12], small_mnist.test.x[12:24]
    out = fidelity_metrics(a, b, extractor, path, kid_subset_size=10, batch_size=12)
    assert set(out) == {"fid_inception", "kid_inception", "kid_inception_std",
                        "is_inception", "is_inception_std"}
    assert all(math.isfinite(v) for v in out.values()), out


def test_missing_inception_weights_is_one_clear_error(empty_hub, small_mnist, small_cfg):
    assert not inception_cache_path().exists()
    cfg = dataclasses.replace(small_cfg, metrics=["fid"], fid_extractor="inception-v3-compat")
    with pytest.raises(DataError) as err:
        Evaluator(cfg, small_mnist, torch.device("cpu"))
    message = str(err.value)
    assert "\n" not in message
    assert URL_INCEPTION_V3 in message and "eval.weights_path" in message
    assert str(inception_cache_path()) in message


def test_a_weights_path_that_is_not_a_file_is_a_config_error(tmp_path, small_mnist, small_cfg):
    cfg = dataclasses.replace(small_cfg, metrics=["fid"], fid_extractor="inception-v3-compat",
                              weights_path=str(tmp_path / "nope.pth"))
    with pytest.raises(ConfigError, match=r"^eval\.weights_path: no file at .*nope\.pth"):
        Evaluator(cfg, small_mnist, torch.device("cpu"))


def test_a_download_in_torch_hub_cache_is_used(empty_hub):
    inception_cache_path().parent.mkdir(parents=True)
    inception_cache_path().write_bytes(b"")  # torch-fidelity would load it without downloading
    assert inception_weights(WeightsSource(None, lambda: Path("unused"))) is None
