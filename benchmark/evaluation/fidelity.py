"""FID, KID and IS through torch-fidelity's `calculate_metrics`, on fixed latents and test images.

The generated images are decoded from the same fixed latents at every evaluation of every run, and
the real ones are the same test images, so differences between numbers come from the weights.
Images become uint8 RGB only here, the boundary torch-fidelity expects.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from benchmark.evaluation.feature_extractors import FeatureExtractor
from benchmark.evaluation.tensors import to_uint8_rgb

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
