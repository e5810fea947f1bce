"""Images through torch-fidelity: its input format, its features at the FID's layer, and its
view of the dataset's classifier (registered with torch-fidelity under `CLASSIFIER_EXTRACTOR`).

The torch side of `extractors.py`. torch-fidelity (and the torchvision models it loads) take
seconds to import, so the metric modules import this one only when FID/KID/IS or prdc are
computed; the CLI's config checks, dry runs and error messages stay fast.
"""

from __future__ import annotations

import torch
import torch_fidelity
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from torch_fidelity.utils import (
    create_feature_extractor,
    get_featuresdict_from_dataset,
    resolve_feature_layer_for_metric,
)

from benchmark.evaluation.classifier import load_classifier
from benchmark.evaluation.context import as_unit_float, to_uint8_rgb
from benchmark.evaluation.extractors import CLASSIFIER_EXTRACTOR, FeatureExtractor

FEATURE_PENULTIMATE = "penultimate"  # the classifier's layer for FID and KID
FEATURE_LOGITS = "logits"  # and for IS


class UInt8Images(Dataset):
    """A fixed set of images as torch-fidelity reads them: uint8 (3, H, W) tensors."""

    def __init__(self, x: torch.Tensor):
        self.x = to_uint8_rgb(x.cpu())

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def extract_features(images: torch.Tensor, extractor: FeatureExtractor,
                     weights_path: str | None, batch_size: int = 200,
                     cuda: bool = False) -> torch.Tensor:
    """(N, D) features of images (N, C, H, W) at the layer the extractor uses for the FID."""
    name = extractor.torch_fidelity_name
    layer = resolve_feature_layer_for_metric("fid", feature_extractor=name)
    model = create_feature_extractor(name, [layer], cuda=cuda, verbose=False,
                                     feature_extractor_weights_path=weights_path)
    features = get_featuresdict_from_dataset(UInt8Images(images), model,
                                             min(batch_size, extractor.max_batch), cuda,
                                             save_cpu_ram=True, verbose=False)
    return features[layer].double()


class ClassifierFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity's view of the classifier: penultimate features and logits of uint8 images."""

    def __init__(self, name: str, features_list: list[str],
                 feature_extractor_weights_path: str | None = None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError(f"{name} needs feature_extractor_weights_path (a classifier file)")
        self.model, _ = load_classifier(feature_extractor_weights_path)
        self.channels = self.model.features[0].in_channels
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        assert x.dtype == torch.uint8 and x.dim() == 4 and x.shape[1] == 3, (x.dtype, x.shape)
        x = as_unit_float(x[:, : self.channels])  # grayscale arrives repeated to 3 channels
        hidden = self.model.features(x)
        out = {FEATURE_PENULTIMATE: hidden, FEATURE_LOGITS: self.model.head(hidden)}
        return tuple(out[name] for name in self.features_list)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return FEATURE_PENULTIMATE, FEATURE_LOGITS

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return FEATURE_LOGITS if metric == "isc" else FEATURE_PENULTIMATE

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, 28, 28, dtype=torch.uint8)


# torch-fidelity's registry refuses duplicates; a module re-import must not register twice.
if CLASSIFIER_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
    torch_fidelity.register_feature_extractor(CLASSIFIER_EXTRACTOR, ClassifierFeatureExtractor)
