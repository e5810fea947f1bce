"""The datasets registry and the settings that name its entries."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from benchmark.data import DATASETS, DataConfig, Samples, load_dataset
from benchmark.errors import ConfigError


class Ramp:
    """A tiny in-memory source: 6 gray 4x4 images of constant brightness."""

    kind = "image"
    native_channels = 1
    labelled = True

    def load(self, root: Path, split: str, download: bool) -> Samples:
        x = torch.arange(6, dtype=torch.uint8).mul(40).view(6, 1, 1, 1).expand(6, 1, 4, 4)
        return Samples(x.contiguous(), torch.arange(6), "image")


def test_built_in_sources() -> None:
    kinds = {name: source.kind for name, source in DATASETS.items()}
    assert kinds == {"digits": "image", "mnist": "image", "cifar10": "image", "svhn": "image",
                     "celeba": "image", "mixture25": "points", "ring8": "points"}
    assert DATASETS["mnist"].native_channels == 1 and DATASETS["cifar10"].native_channels == 3


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"^data.dataset: unknown value 'cifar'; choose from: "
                                          r"celeba, cifar10, digits"):
        DATASETS.get("cifar")


@pytest.mark.parametrize(("name", "source", "error", "pattern"), [
    ("mnist", Ramp(), ValueError, "already registered"),
    ("two words", Ramp(), ValueError, "without spaces"),
    ("a/b", Ramp(), ValueError, "without spaces or slashes"),
    ("", Ramp(), ValueError, "non-empty"),
    ("nothing", object(), TypeError, "needs kind, native_channels, labelled and load"),
])
def test_bad_registrations_are_refused(name: str, source: object, error: type,
                                       pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        DATASETS.register(name, source)  # type: ignore[arg-type]
    assert name not in DATASETS or name == "mnist"


def test_a_registered_source_loads_and_becomes_a_choice() -> None:
    DATASETS.register("ramp", Ramp())
    try:
        choices = {f.name: f for f in dataclasses.fields(DataConfig)}["dataset"].metadata["choices"]
        assert "ramp" in choices()
        bundle = load_dataset(DataConfig(dataset="ramp", image_size=32, channels=3), seed=0)
        assert bundle.train.x.shape == (6, 3, 32, 32)
        assert bundle.train.x[5].unique().tolist() == [200]
    finally:
        DATASETS.unregister("ramp")


def test_settings_metadata_follows_the_contract() -> None:
    fields = {f.name: f for f in dataclasses.fields(DataConfig)}
    assert all(f.metadata.get("help") for f in fields.values())
    assert fields["dataset"].metadata["choices"]() == sorted(DATASETS)
    assert fields["image_size"].metadata["choices"]() == [28, 32, 64]
    assert {n for n, f in fields.items() if f.metadata.get("in_key") is False} == {
        "data_root", "download"}
    assert DataConfig().batch_size == 100 and DataConfig().dataset == "digits"
