"""A small CNN trained on the dataset's own labels: the offline feature extractor for FID/KID/IS,
and the judge of `recon_acc` (how often it gives Gx(Gz(x)) the label of x: pixel MSE rewards
blurry averages, this asks whether a reconstruction kept what x depicts).

Inception-v3 needs a 100 MB download and sees 28x28 digits through a 299x299 resize; a classifier
trained on the dataset itself works offline, in seconds, and measures what the digits look like.
It is the measuring instrument shared by every run, so it is trained deterministically (fixed seed
and epochs) and cached on disk, keyed by the data and every setting that changes its weights.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.evaluation.caching import atomic_torch_save, digest
from benchmark.evaluation.context import as_unit_float, batched, fork_rng

_POOLED = 7  # feature maps are pooled to 7x7 (the identity for 28x28 inputs)
_HIDDEN = 128


@dataclass(frozen=True)
class ClassifierSettings:
    """Everything that changes the trained weights; its hash names the cache file."""

    channels: int
    image_size: int
    num_classes: int
    epochs: int
    train_count: int  # images it is trained on (all given to `train_classifier`)
    seed: int
    batch_size: int = 100
    lr: float = 1e-3
    # A small training split gets more epochs (`eval.classifier_min_updates`, by default
    # MNIST's 2 x 600 updates): 2 epochs of the 1,500 digits are 30 updates, and left the
    # digits' classifier at 0.76 test accuracy, below 1-NN on a random encoder's features
    # (0.86), so it could not be called recon_acc's ceiling.
    min_updates: int = 1200
    max_shift: int = 2  # each training image moves by up to this many pixels, both axes

    def digest(self, data_fingerprint: str) -> str:
        """Short hash of these settings together with the training data they apply to."""
        return digest([dataclasses.asdict(self), data_fingerprint])

    def epochs_run(self) -> int:
        """`epochs`, or more where that many are fewer than `min_updates` updates."""
        per_epoch = -(-self.train_count // self.batch_size)
        return max(self.epochs, -(-self.min_updates // per_epoch))


def random_shifts(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of (B, C, H, W) translated by its own integer offsets in [-max_shift,
    max_shift] along each axis, zero-filled: digits written a little off centre are the same
    digit, which the 297 test digits (other writers than the 1,500 training ones) need."""
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy, dx = (torch.randint(0, 2 * max_shift + 1, (n, 1), generator=generator) for _ in "yx")
    rows = (dy + torch.arange(h)).to(x.device)[:, :, None]  # (B, H, 1)
    cols = (dx + torch.arange(w)).to(x.device)[:, None, :]  # (B, 1, W)
    picked = padded[torch.arange(n, device=x.device)[:, None, None], :, rows, cols]
    return picked.permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)


class SmallCNN(nn.Module):
    """Two conv blocks and a hidden layer: >97% on MNIST after one CPU epoch of ~15 s."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(_POOLED), nn.Flatten(),
            nn.Linear(32 * _POOLED * _POOLED, _HIDDEN), nn.ReLU(),
        )  # (B, 128): the penultimate layer
        self.head = nn.Linear(_HIDDEN, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x float (B, C, H, W) in [0, 1] -> logits (B, num_classes)."""
        return self.head(self.features(x))


class TrainedClassifier(NamedTuple):
    model: SmallCNN
    path: Path  # the cached checkpoint, also torch-fidelity's weights file
    test_acc: float


def train_classifier(x: torch.Tensor, y: torch.Tensor, settings: ClassifierSettings,
                     device: torch.device | None = None) -> SmallCNN:
    """Adam on cross-entropy for `settings.epochs_run()` epochs, on randomly shifted images;
    the same inputs give the same weights.

    Runs under its own seed inside a forked RNG, so a run's training stream is left untouched.
    """
    device = device or torch.device("cpu")
    assert len(x) == len(y) == settings.train_count, (x.shape, y.shape, settings.train_count)
    with fork_rng(device), torch.inference_mode(False), torch.enable_grad():
        torch.manual_seed(settings.seed)
        model = SmallCNN(settings.channels, settings.num_classes).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
        order = torch.Generator().manual_seed(settings.seed)
        model.train()
        for _ in range(settings.epochs_run()):
            perm = torch.randperm(len(x), generator=order)
            for start in range(0, len(x), settings.batch_size):
                idx = perm[start : start + settings.batch_size]
                xb = random_shifts(as_unit_float(x[idx]).to(device), settings.max_shift, order)
                yb = y[idx].to(device)
                loss = F.cross_entropy(model(xb), yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    model.eval()
    return model


@torch.no_grad()
def predict_labels(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Class indices (N,) for images x (uint8 or float in [0, 1]), on the model's device."""
    device = next(model.parameters()).device
    return batched(lambda b: model(as_unit_float(b)).argmax(dim=1), x, batch_size, device)


def classifier_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                        batch_size: int = 1000) -> float:
    """Fraction of x that the classifier labels as y."""
    return (predict_labels(model, x, batch_size) == y).float().mean().item()


def load_or_train_classifier(
    path: Path, settings: ClassifierSettings, train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor], device: torch.device | None = None,
) -> TrainedClassifier:
    """Load the checkpoint at `path` if it exists, else train, measure on `test`, and save it."""
    device = device or torch.device("cpu")
    if path.exists():
        model, test_acc = load_classifier(path, device)
        return TrainedClassifier(model, path, test_acc)
    model = train_classifier(*train, settings, device)
    test_acc = classifier_accuracy(model, *test)
    checkpoint = {
        "settings": dataclasses.asdict(settings),
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
        "test_acc": test_acc,
    }
    atomic_torch_save(checkpoint, path)  # a parallel run never reads half a file
    return TrainedClassifier(model, path, test_acc)


def load_classifier(path: str | os.PathLike, device: torch.device | None = None
                    ) -> tuple[SmallCNN, float]:
    """The model and its recorded test accuracy from a checkpoint written above."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    settings = checkpoint["settings"]
    with fork_rng(torch.device("cpu")):  # the layers' initial draws, overwritten below, must
        model = SmallCNN(settings["channels"], settings["num_classes"])  # not move the run's
    model.load_state_dict(checkpoint["state_dict"])
    model.to(device or torch.device("cpu")).eval()
    return model, float(checkpoint["test_acc"])
