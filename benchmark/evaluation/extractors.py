"""The feature spaces FID/KID/IS and prdc are computed in (`eval.fid_extractor`), declared
without torch: settings validation and `--help` read them before any run starts.

Each extractor names the torch-fidelity extractor that computes its features
(`features.py` registers the dataset's classifier with torch-fidelity) and where its weights
come from. Missing Inception weights are found before training, not by torch-fidelity trying to
download them mid-run on a machine without internet.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import ConfigError, DataError
from benchmark.registry import Registry

# torch-fidelity's `feature_extractor_inceptionv3.URL_INCEPTION_V3`, copied so that naming it in an
# error does not import torch-fidelity (tests/evaluation/test_eval_inception.py checks the copy).
URL_INCEPTION_V3 = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                    "weights-inception-2015-12-05-6726825d.pth")

# Name under which torch-fidelity knows the classifier; its weights come in through
# torch-fidelity's own `feature_extractor_weights_path` kwarg.
CLASSIFIER_EXTRACTOR = "alibench-classifier"


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


def _check_extractor(name: str, extractor: FeatureExtractor) -> None:
    if not isinstance(extractor, FeatureExtractor) or not callable(extractor.weights):
        raise TypeError(f"feature extractor {name!r} must be a FeatureExtractor, "
                        f"got {type(extractor).__name__}")


FEATURE_EXTRACTORS: Registry[FeatureExtractor] = Registry(
    "feature extractor", "eval.fid_extractor", check=_check_extractor)


def inception_cache_path() -> Path:
    """Where torch-fidelity's `load_state_dict_from_url` keeps (and first looks for) the weights."""
    import torch  # only when the Inception extractor is resolved, before a run

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


FEATURE_EXTRACTORS.register("classifier", FeatureExtractor(
    CLASSIFIER_EXTRACTOR, "classifier", classifier_weights, needs_labels=True))
FEATURE_EXTRACTORS.register("inception-v3-compat", FeatureExtractor(
    "inception-v3-compat", "inception", inception_weights, max_batch=64))
