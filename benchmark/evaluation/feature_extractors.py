"""The feature extractors FID, KID and IS can use, by the name `eval.fid_extractor` takes.

Each entry says which torch-fidelity extractor to call, the suffix of its result keys, and where
its weights come from. Missing Inception weights are found here, before torch-fidelity would try
to download them on a machine without internet and fail deep inside a run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark.errors import ConfigError, DataError
from benchmark.evaluation.classifier import CLASSIFIER_EXTRACTOR

# torch-fidelity's `feature_extractor_inceptionv3.URL_INCEPTION_V3`, copied so that naming it in an
# error does not import torch-fidelity (tests/evaluation/test_eval_inception.py checks the copy).
URL_INCEPTION_V3 = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                    "weights-inception-2015-12-05-6726825d.pth")


@dataclass(frozen=True)
class WeightsSource:
    """What an extractor may draw its weights from: the user's file or the suite's classifier."""

    weights_path: str | None  # eval.weights_path
    classifier_path: Callable[[], Path]  # trains (or loads) the dataset's classifier on demand


@dataclass(frozen=True)
class FeatureExtractor:
    """`key` is the result-key suffix (`fid_<key>`); `weights` returns torch-fidelity's
    `feature_extractor_weights_path` (None: torch-fidelity's own cache) or raises a user error."""

    torch_fidelity_name: str
    key: str
    weights: Callable[[WeightsSource], str | None]
    needs_labels: bool = False
    max_batch: int = 500  # images per forward pass: Inception's 299x299 activations are large


FEATURE_EXTRACTORS: dict[str, FeatureExtractor] = {}


def register_feature_extractor(name: str, extractor: FeatureExtractor) -> None:
    """Add an extractor under `name`; names are unique and used verbatim in configs."""
    if not isinstance(name, str) or not name or name.strip() != name or os.sep in name:
        raise ValueError(f"feature extractor name must be a plain non-empty string, got {name!r}")
    if name in FEATURE_EXTRACTORS:
        raise ValueError(f"feature extractor {name!r} is already registered")
    if not isinstance(extractor, FeatureExtractor) or not callable(extractor.weights):
        raise ValueError(f"feature extractor {name!r} must be a FeatureExtractor")
    FEATURE_EXTRACTORS[name] = extractor


def feature_extractor_names() -> list[str]:
    """The valid values of `eval.fid_extractor`, for the config layer's `choices`."""
    return sorted(FEATURE_EXTRACTORS)


def get_feature_extractor(name: str) -> FeatureExtractor:
    """The registered extractor, or a ConfigError listing the known ones."""
    if name not in FEATURE_EXTRACTORS:
        raise ConfigError(f"eval.fid_extractor: unknown value {name!r}; choose from: "
                          f"{', '.join(feature_extractor_names())}")
    return FEATURE_EXTRACTORS[name]


def inception_cache_path() -> Path:
    """Where torch-fidelity's `load_state_dict_from_url` keeps (and first looks for) the weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(URL_INCEPTION_V3)


def inception_weights(source: WeightsSource) -> str | None:
    """The user's weights file, or None when torch hub already caches the download; else an error
    saying how to supply the file (this suite must not reach for the internet mid-run)."""
    if source.weights_path is not None:
        if not Path(source.weights_path).is_file():
            raise ConfigError(f"eval.weights_path: no file at {source.weights_path!r}; give the "
                              f"Inception-v3 weights downloaded from {URL_INCEPTION_V3}")
        return source.weights_path
    if inception_cache_path().is_file():
        return None
    raise DataError(f"eval.weights_path: Inception-v3 weights not found (looked in "
                    f"{inception_cache_path()}); download {URL_INCEPTION_V3} and set "
                    f"eval.weights_path to the file, or use eval.fid_extractor: classifier")


def classifier_weights(source: WeightsSource) -> str:
    """The dataset's own classifier, trained and cached on first use."""
    return str(source.classifier_path())


register_feature_extractor("classifier", FeatureExtractor(
    CLASSIFIER_EXTRACTOR, "classifier", classifier_weights, needs_labels=True))
register_feature_extractor("inception-v3-compat", FeatureExtractor(
    "inception-v3-compat", "inception", inception_weights, max_batch=64))
