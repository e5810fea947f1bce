"""Fixtures for the evaluation tests: real MNIST, and a classifier trained once per session."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from environment import shared_data

from benchmark.data import DataBundle, DataConfig, load_dataset
from benchmark.evaluation import EvalConfig
from benchmark.evaluation.evaluator import Evaluator

SMALL_TRAIN, SMALL_TEST = 4000, 1000  # enough for a >90% classifier in a few seconds


@pytest.fixture(scope="session")
def mnist() -> DataBundle:
    """All of real MNIST (60,000 train, 10,000 test) as uint8 (N, 1, 28, 28)."""
    return load_dataset(DataConfig(dataset="mnist", data_root=str(shared_data("mnist"))), seed=0)


@pytest.fixture(scope="session")
def small_mnist(mnist: DataBundle) -> DataBundle:
    """The first 4,000 training and 1,000 test images of real MNIST."""
    return DataBundle(train=mnist.train.take(torch.arange(SMALL_TRAIN)),
                      test=mnist.test.take(torch.arange(SMALL_TEST)),
                      image_shape=mnist.image_shape, kind=mnist.kind)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session: the small-MNIST classifier is trained once, then loaded."""
    return tmp_path_factory.mktemp("eval-cache")


@pytest.fixture(scope="session")
def small_cfg(cache_dir: Path) -> EvalConfig:
    """Small counts so a full evaluation of a tiny model takes about a second."""
    return EvalConfig(
        metrics=["recon_mse"], recon_count=200, fid_gen_count=300, fid_real_count=300,
        kid_subset_size=50, probe_test_count=500, knn_train_count=1000, panel_count=4,
        interpolation_steps=5, classifier_epochs=2, classifier_min_updates=80,  # 2 epochs
        cache_dir=str(cache_dir))


@pytest.fixture(scope="session")
def trained_small_classifier(small_mnist: DataBundle, small_cfg: EvalConfig):
    """The classifier the Evaluator trains on small MNIST (cached in the session's cache)."""
    cfg = dataclasses.replace(small_cfg, metrics=["recon_acc"])
    return Evaluator(cfg, small_mnist, torch.device("cpu")).trained_classifier()
