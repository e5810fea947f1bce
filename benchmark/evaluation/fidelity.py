"""FID, KID and IS through torch-fidelity's `calculate_metrics`, and the feature spaces
(`eval.fid_extractor`) they, and prdc, are computed in.

The generated images are decoded from the same fixed latents at every evaluation of every run, and
the real ones are the same test images, so differences between numbers come from the weights.
Images become uint8 RGB only here, the boundary torch-fidelity expects. Missing Inception weights
are found before training, not by torch-fidelity trying to download them mid-run on a machine
without internet.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset

from benchmark.errors import ConfigError, DataError
from benchmark.evaluation.classifier import CLASSIFIER_EXTRACTOR
from benchmark.evaluation.context import FIXED_SEED, purpose_generator, to_uint8_rgb
from benchmark.evaluation.metrics import PIXEL_GAUSSIAN
from benchmark.evaluation.reconstruction import mean_input
from benchmark.registry import Registry

if TYPE_CHECKING:
    from benchmark.evaluation.context import EvalContext
    from benchmark.evaluation.settings import EvalConfig

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


def _check_extractor(name: str, extractor: FeatureExtractor) -> None:
    if not isinstance(extractor, FeatureExtractor) or not callable(extractor.weights):
        raise TypeError(f"feature extractor {name!r} must be a FeatureExtractor, "
                        f"got {type(extractor).__name__}")


FEATURE_EXTRACTORS: Registry[FeatureExtractor] = Registry(
    "feature extractor", "eval.fid_extractor", check=_check_extractor)


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


FEATURE_EXTRACTORS.register("classifier", FeatureExtractor(
    CLASSIFIER_EXTRACTOR, "classifier", classifier_weights, needs_labels=True))
FEATURE_EXTRACTORS.register("inception-v3-compat", FeatureExtractor(
    "inception-v3-compat", "inception", inception_weights, max_batch=64))


# torch-fidelity's result keys (by their constants' names, as torch-fidelity is imported only to
# compute) -> ours without the extractor suffix; ours are `<name>_<key>` followed by `_std` where
# torch-fidelity reports a spread.
_RENAME = {
    "KEY_METRIC_FID": ("fid", ""),
    "KEY_METRIC_KID_MEAN": ("kid", ""),
    "KEY_METRIC_KID_STD": ("kid", "_std"),
    "KEY_METRIC_ISC_MEAN": ("is", ""),
    "KEY_METRIC_ISC_STD": ("is", "_std"),
}


def result_keys(extractor_key: str) -> list[str]:
    """The keys `fidelity_metrics` returns for an extractor, e.g. fid_classifier, kid_..._std."""
    return [f"{name}_{extractor_key}{suffix}" for name, suffix in _RENAME.values()]


class UInt8Images(Dataset):
    """A fixed set of images as torch-fidelity reads them: uint8 (3, H, W) tensors."""

    def __init__(self, x: torch.Tensor):
        self.x = to_uint8_rgb(x.cpu())

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def fidelity_metrics(generated: torch.Tensor, real: torch.Tensor, extractor: FeatureExtractor,
                     weights_path: str | None, kid_subset_size: int, batch_size: int = 200,
                     cuda: bool = False) -> dict[str, float]:
    """FID, KID (mean, std) and IS (mean, std) of generated vs real images (N, C, H, W).

    `weights_path` goes to torch-fidelity as `feature_extractor_weights_path`. Its disk cache is
    off: our inputs change with every evaluation and the real features are cheap to recompute.
    """
    import torch_fidelity  # seconds to import: only here, when metrics are computed

    from benchmark.evaluation import fidelity_classifier  # noqa: F401  (registers the classifier)

    raw = torch_fidelity.calculate_metrics(
        input1=UInt8Images(generated), input2=UInt8Images(real),
        fid=True, kid=True, isc=True,
        feature_extractor=extractor.torch_fidelity_name,
        feature_extractor_weights_path=weights_path,
        kid_subset_size=kid_subset_size, batch_size=min(batch_size, extractor.max_batch),
        cuda=cuda, save_cpu_ram=True, cache=False, verbose=False,
    )
    return {f"{name}_{extractor.key}{suffix}": float(raw[getattr(torch_fidelity, constant)])
            for constant, (name, suffix) in _RENAME.items()}


def against_fixed_real(ctx: EvalContext, generated: torch.Tensor) -> dict[str, float]:
    """FID, KID and IS of `generated` against the fixed test images, in the run's feature space
    and settings: what the metric and its baseline both score."""
    cfg = ctx.res.cfg
    real = ctx.res.inputs.data.test.x[ctx.res.inputs.fid_real]
    return fidelity_metrics(generated, real, FEATURE_EXTRACTORS.get(cfg.fid_extractor),
                            ctx.res.fid_weights(), cfg.kid_subset_size, cfg.batch_size,
                            cuda=ctx.res.device.type == "cuda")


def fid(ctx: EvalContext) -> dict[str, float]:
    """The `fid` metric: FID, KID and IS of decoded fixed latents against the fixed test images."""
    return against_fixed_real(ctx, ctx.decoded(ctx.res.cfg.fid_gen_count, "fid_z"))


def pixel_gaussian(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` images whose pixels are independent normals with each pixel's training mean and
    standard deviation, clipped to [0, 1]: a generator that knows the data's first two moments
    per pixel and nothing of its structure, so a trained generator must score better."""
    mean = mean_input(train_x)
    std = (mean_input(train_x, power=2) - mean.square()).clamp_(min=0.0).sqrt_()
    noise = torch.randn((count, *train_x.shape[1:]), generator=generator, dtype=torch.float64)
    return (mean + std * noise).clamp_(0.0, 1.0).float()


def fid_baseline(ctx: EvalContext) -> dict[str, float]:
    """The `fid` metric's baseline: FID, KID and IS of `fid_gen_count` pixel-Gaussian images
    (`pixel_gaussian`, fixed draws) against the same real images the metric uses."""
    generated = pixel_gaussian(ctx.res.inputs.data.train.x, ctx.res.cfg.fid_gen_count,
                               purpose_generator(FIXED_SEED, "fid_gaussian"))
    scores = against_fixed_real(ctx, generated)
    return {PIXEL_GAUSSIAN.key_for(key): value for key, value in scores.items()
            if not key.endswith("_std")}


def check_kid_subset(cfg: EvalConfig) -> None:
    """KID draws subsets of `kid_subset_size` from both sample sets."""
    smallest = min(cfg.fid_gen_count, cfg.fid_real_count)
    if cfg.kid_subset_size > smallest:
        raise ConfigError(f"eval.kid_subset_size: {cfg.kid_subset_size} exceeds the smaller "
                          f"FID sample count {smallest}; choose from: 2..{smallest}")
