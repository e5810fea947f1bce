"""Plug-ins written the way a user writes them: outside benchmark/ and optim/, registered by
name, with no other edit. Each is one short block, as README.md's "Extending" shows.

- `rmsprop`: torch's RMSprop, with a hyperparameter no built-in optimizer has (`alpha`).
- `logit_penalty`: a discriminator-side stabilizer (a term added to D's loss).
- `latent_norm`: a generator-side stabilizer (a term added to the encoder and decoder's loss).
- `stripes`: an in-memory image dataset, at an image size of its own (16 px, a new layer table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from benchmark.data import DATASETS, Samples
from benchmark.models.tables import ARCHITECTURES, Architecture, Layer
from benchmark.optimizers import OPTIMIZERS, OptimizerSpec
from benchmark.stabilizers import STABILIZERS, Pairs, Stabilizer


# --- an optimizer with a new hyperparameter --------------------------------------------------
@dataclass
class RMSpropOptions:
    alpha: float = field(default=0.99, metadata={
        "help": "RMSprop's smoothing constant", "min": 0.0, "max": 0.999999})


RMSPROP = OptimizerSpec(torch.optim.RMSprop, RMSpropOptions)


# --- a stabilizer on the discriminator's side ------------------------------------------------
@dataclass
class LogitPenaltyOptions:
    weight: float = field(default=0.1, metadata={"help": "weight of mean(logits^2)", "min": 0.0})


class LogitPenalty(Stabilizer):
    """Keeps the discriminator's logits small: weight * mean(logits^2) over both pair kinds."""

    name = "logit_penalty"
    Options = LogitPenaltyOptions

    def penalty(self, discriminator: nn.Module, pairs: Pairs, step: int) -> torch.Tensor:
        logits = torch.cat([discriminator(pairs.x_enc, pairs.z_enc),
                            discriminator(pairs.x_dec, pairs.z_dec)])
        return self.options.weight * logits.pow(2).mean()


# --- a stabilizer on the generator's side ----------------------------------------------------
@dataclass
class LatentNormOptions:
    weight: float = field(default=0.01, metadata={"help": "weight of mean(Gz(x)^2)", "min": 0.0})


class LatentNorm(Stabilizer):
    """Pulls the encoder's codes toward the prior's scale: weight * mean(z^2) in G's loss."""

    name = "latent_norm"
    Options = LatentNormOptions

    def generator_penalty(self, ali, x, encoded, z_prior, x_fake, step) -> torch.Tensor:
        return self.options.weight * encoded.z.pow(2).mean()


# --- a dataset, at an image size of its own --------------------------------------------------
class Stripes:
    """Gray 16x16 stripes, four classes by period, random phase; made in memory."""

    kind = "image"
    native_channels = 1
    labelled = True

    def load(self, root: Path, split: str, download: bool) -> Samples:
        n = 120 if split == "train" else 60
        generator = torch.Generator().manual_seed(0 if split == "train" else 1)
        y = torch.arange(n) % 4
        phase = torch.randint(0, 8, (n, 1), generator=generator)
        columns = (torch.arange(16).view(1, 16) + phase) // (y.view(n, 1) + 1) % 2
        x = (columns * 255).to(torch.uint8).view(n, 1, 1, 16).expand(n, 1, 16, 16)
        return Samples(x.contiguous(), y, "image")


STRIPES_ARCHITECTURE = Architecture(
    16,
    encoder=(Layer(4, 2, 32, True, padding=1), Layer(4, 2, 64, True, padding=1),
             Layer(4, 1, 128, True)),  # 16 -> 8 -> 4 -> 1
    decoder=(Layer(4, 1, 128, True), Layer(4, 2, 64, True, padding=1),
             Layer(4, 2, 32, True, padding=1)),  # 1 -> 4 -> 8 -> 16
    discriminator_x=(Layer(4, 2, 32, False, padding=1), Layer(4, 2, 64, True, padding=1),
                     Layer(4, 1, 128, True)),
)


def register() -> None:
    """What a plug-in module does at import; here in a function, so tests can undo it."""
    OPTIMIZERS.register("rmsprop", RMSPROP)
    STABILIZERS.register(LogitPenalty)
    STABILIZERS.register(LatentNorm)
    DATASETS.register("stripes", Stripes())
    ARCHITECTURES[16] = STRIPES_ARCHITECTURE


def unregister() -> None:
    OPTIMIZERS.unregister("rmsprop")
    STABILIZERS.unregister("logit_penalty")
    STABILIZERS.unregister("latent_norm")
    DATASETS.unregister("stripes")
    del ARCHITECTURES[16]
