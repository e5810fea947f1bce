"""An optimizer with a hyperparameter no built-in has, in one file: torch's Adagrad and its
`lr_decay`. Importing the module registers it (`--plugin lab_optimizer`): `optim.name: adagrad`
and `optim.lr_decay: 1e-3` are then valid, checked, in the run key, the params and the run name
(`...-adagrad-alternating-lr_decay0.001-...`), and reach the constructor."""

from dataclasses import dataclass, field

import torch

from benchmark.optimizers import OPTIMIZERS, OptimizerSpec


@dataclass
class AdagradOptions:
    lr_decay: float = field(default=0.0, metadata={
        "help": "Adagrad's learning-rate decay per step", "min": 0.0})


OPTIMIZERS.register("adagrad", OptimizerSpec(torch.optim.Adagrad, AdagradOptions))
