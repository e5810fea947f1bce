"""The fixed inputs of evaluation, chosen once per Evaluator and identical for every run.

Every index set and latent comes from `FIXED_SEED` and a purpose name, not from the run's seed:
runs that differ only in their seed are scored on the same images and the same latents, so their
numbers differ by their weights alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchmark.data import DataBundle, as_float
from benchmark.errors import ConfigError
from benchmark.evaluation.probe import draw_per_class
from benchmark.evaluation.settings import EvalConfig
from benchmark.evaluation.tensors import fixed_indices, fixed_normal, purpose_generator

FIXED_SEED = 2016  # the seed of every fixed input (and of the FID classifier)


@dataclass(frozen=True)
class FixedInputs:
    """Indices into the data's splits; latents are drawn on demand because z_dim comes later."""

    data: DataBundle
    recon: torch.Tensor  # test indices for recon_mse and recon_acc
    panel: torch.Tensor  # test indices of the reconstruction panel (a prefix of the recon order)
    test: torch.Tensor  # test indices the probe and 1-NN are scored on
    knn_train: torch.Tensor  # training indices the 1-NN searches
    probe_draws: tuple[torch.Tensor, ...]  # training indices, per_class of each class per draw
    fid_real: torch.Tensor  # test indices of the real images for FID/KID
    pairs: tuple[torch.Tensor, torch.Tensor]  # test indices of the interpolation endpoints

    def test_x(self, idx: torch.Tensor) -> torch.Tensor:
        """Test inputs at idx in the model's range (float)."""
        return as_float(self.data.test.x[idx])

    def train_x(self, idx: torch.Tensor) -> torch.Tensor:
        """Training inputs at idx in the model's range (float)."""
        return as_float(self.data.train.x[idx])


def latents(count: int, z_dim: int, purpose: str) -> torch.Tensor:
    """Fixed standard normal (count, z_dim): prior samples or encoder noise, per purpose."""
    return fixed_normal((count, z_dim), FIXED_SEED, purpose)


# field -> (split it draws from, metrics that need all of it)
_COUNTS = {
    "recon_count": ("test", {"recon_mse", "recon_acc"}),
    "probe_test_count": ("test", {"probe", "knn"}),
    "knn_train_count": ("train", {"knn"}),
    "fid_real_count": ("test", {"fid", "prdc"}),
    "classifier_train_count": ("train", {"fid", "prdc", "recon_acc"}),
}


def check_counts(cfg: EvalConfig, data: DataBundle, metrics: set[str]) -> None:
    """A configured metric must find all the inputs it asks for in its split."""
    sizes = {"train": len(data.train), "test": len(data.test)}
    for field, (split, users) in _COUNTS.items():
        value = getattr(cfg, field)
        if value is not None and users & metrics and value > sizes[split]:
            raise ConfigError(f"eval.{field}: {value} exceeds the {sizes[split]} {split} samples "
                              f"of this dataset; choose from: 1..{sizes[split]}")


def build_fixed_inputs(cfg: EvalConfig, data: DataBundle) -> FixedInputs:
    """Choose every fixed index set once (counts beyond a split are cut: see `check_counts`)."""
    n_train, n_test = len(data.train), len(data.test)

    def pick(total: int, count: int, purpose: str) -> torch.Tensor:
        return fixed_indices(total, max(1, min(count, total)), FIXED_SEED, purpose)

    pairs = pick(n_test, 2 * cfg.panel_count, "pairs")
    half = max(1, len(pairs) // 2)
    generator = purpose_generator(FIXED_SEED, "probe_draws")
    return FixedInputs(
        data=data,
        recon=pick(n_test, cfg.recon_count, "recon"),
        panel=pick(n_test, cfg.panel_count, "recon"),
        test=pick(n_test, cfg.probe_test_count, "test"),
        knn_train=pick(n_train, cfg.knn_train_count, "knn_train"),
        probe_draws=tuple(draw_per_class(data.train.y, cfg.probe_per_class, generator)
                          for _ in range(cfg.probe_draws)),
        fid_real=pick(n_test, cfg.fid_real_count, "fid_real"),
        pairs=(pairs[:half], pairs[-half:]),
    )
