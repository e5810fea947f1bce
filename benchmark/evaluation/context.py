"""One evaluation of one model: the model, the fixed inputs, and values several metrics share.

A metric in the registry is a function of an `EvalContext`. Values two metrics need (the
reconstructions, the test encodings) are computed once per evaluation through `shared`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from benchmark.evaluation.inputs import FixedInputs, latents
from benchmark.evaluation.reconstruction import Reconstructions, reconstruct
from benchmark.evaluation.settings import EvalConfig
from benchmark.evaluation.tensors import batched


@dataclass
class Resources:
    """What the Evaluator lends its metrics: settings, device, and lazily built instruments."""

    cfg: EvalConfig
    device: torch.device
    inputs: FixedInputs
    classifier: Callable[[], nn.Module]  # trained or loaded on first call
    fid_weights: Callable[[], str | None]  # torch-fidelity's feature_extractor_weights_path
    mixture: Callable[[], tuple[torch.Tensor, float]]  # centres and std of the 2-D mixture


@dataclass
class EvalContext:
    """`encoder` alone is enough for the encoder metrics (the random-encoder baselines use that);
    `ali` is needed by everything that decodes."""

    res: Resources
    encoder: nn.Module
    ali: nn.Module | None = None
    _shared: dict[str, Any] = field(default_factory=dict)

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """compute() once per evaluation; later metrics reuse the value."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    def means(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder means mu(x), batched, on the CPU."""
        return batched(lambda b: self.encoder(b).mu, x, self.res.cfg.batch_size, self.res.device)

    def test_means(self) -> torch.Tensor:
        """mu of the fixed probe/1-NN test inputs."""
        inputs = self.res.inputs
        return self.shared("test_means", lambda: self.means(inputs.test_x(inputs.test)))

    def reconstructions(self) -> Reconstructions:
        """Gx(Gz(x)) of the fixed recon inputs, with fixed encoder noise."""
        assert self.ali is not None, "reconstructions need the decoder"
        inputs, cfg = self.res.inputs, self.res.cfg

        def compute() -> Reconstructions:
            eps = latents(len(inputs.recon), self.ali.z_dim, "recon_eps")
            x = inputs.test_x(inputs.recon)
            return reconstruct(self.ali, x, eps, cfg.batch_size, self.res.device)

        return self.shared("reconstructions", compute)

    def decoded(self, count: int, purpose: str) -> torch.Tensor:
        """Gx(z) for `count` fixed prior latents named by `purpose`, on the CPU."""
        assert self.ali is not None, "samples need the decoder"
        z = latents(count, self.ali.z_dim, purpose)
        return batched(self.ali.decoder, z, self.res.cfg.batch_size, self.res.device)
