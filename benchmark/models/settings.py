"""Options of the ALI networks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelConfig:
    z_dim: int = field(
        default=64, metadata={"help": "latent size (seed report Table 1: 128 MNIST, 256 SVHN/CelebA)",
                              "min": 1})
    width: float = field(
        default=1.0, metadata={"help": "multiplier of every hidden layer's channels (tiny runs: 0.125)",
                               "gt": 0.0, "max": 4.0})
    dropout: float = field(
        default=0.2, metadata={"help": "dropout rate of every discriminator layer (paper: 0.2)",
                               "min": 0.0, "max": 0.9})
    leak: float = field(
        default=0.02, metadata={"help": "negative slope of the leaky ReLUs", "min": 0.0, "max": 1.0})
    hidden: int = field(
        default=256, metadata={"help": "hidden units of the fully connected nets for 2-D points",
                               "min": 1})
