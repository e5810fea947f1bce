"""Shuffled minibatches, epoch by epoch, from a generator of their own, resumable exactly.

The sampler keeps its own `torch.Generator`, so the batch order depends only on its seed, not
on how many random numbers the model or the noise drew. Each epoch is a fresh permutation cut
into full batches; the last `len % batch_size` samples of a permutation are skipped, so every
batch has the same size (they come up in later epochs' permutations).
"""

from __future__ import annotations

from typing import Any

import torch

from benchmark.data.samples import Samples
from benchmark.data.transforms import as_float
from benchmark.errors import ConfigError


class BatchSampler:
    """Draws `(x, y)` minibatches from `samples`: x float32 ([0, 1] for images), y int64."""

    def __init__(self, samples: Samples, batch_size: int, seed: int) -> None:
        if not 1 <= batch_size <= len(samples):
            raise ConfigError(f"data.batch_size: {batch_size} does not fit the {len(samples)} "
                              f"training samples; choose from: 1..{len(samples)}")
        self.samples = samples
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(len(samples), generator=self.generator)
        self.pos = 0  # index into perm of the next batch's first sample
        self.epoch = 0  # completed passes over the permutation
        self.draws = 0  # minibatches drawn so far, across epochs

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next minibatch; starts a new shuffled epoch when the current one is used up."""
        if self.pos + self.batch_size > len(self.perm):
            self.perm = torch.randperm(len(self.samples), generator=self.generator)
            self.pos = 0
            self.epoch += 1
        index = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        self.draws += 1
        return as_float(self.samples.x[index]), self.samples.y[index]

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue with exactly the batches an uninterrupted run draws."""
        return {"generator": self.generator.get_state(), "perm": self.perm.clone(),
                "pos": self.pos, "epoch": self.epoch, "draws": self.draws,
                "batch_size": self.batch_size, "n": len(self.samples)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict`; refuses one taken from other data or another batch size."""
        if (state["n"], state["batch_size"]) != (len(self.samples), self.batch_size):
            raise ValueError(f"sampler state is for {state['n']} samples in batches of "
                             f"{state['batch_size']}, this sampler has {len(self.samples)} in "
                             f"batches of {self.batch_size}")
        self.generator.set_state(state["generator"])
        self.perm = state["perm"].clone()
        self.pos, self.epoch, self.draws = state["pos"], state["epoch"], state["draws"]
