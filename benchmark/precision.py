"""Arithmetic precision of the training update: `train.precision`, a registry of its choices.

- `fp32` (the default): IEEE float32 everywhere, TensorFloat-32 off for matmuls and cuDNN
  convolutions; on the CPU what the suite always did.
- `tf32`: float32 tensors, with CUDA matmuls and convolutions on TF32 tensor cores (10-bit
  mantissa products, float32 sums). No effect on the CPU.
- `bf16`: the update's forward passes under `torch.autocast(dtype=torch.bfloat16)` (convolutions
  and matmuls in bfloat16, losses and reductions in float32 as autocast's lists put them;
  the backward pass follows the forward's types); weights, gradients and optimizer states stay
  float32. bfloat16 has float32's exponent range, so no loss scaling is needed. Runs on the CPU
  too (slowly, where the CPU lacks bfloat16 instructions).

Evaluation is always in float32: the precision applies inside the update only (`Precision.update`
around a step, `Precision.autocast` around each forward pass of the game), so every run is
scored by the same instrument.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from benchmark.registry import Registry


@dataclass(frozen=True)
class Precision:
    name: str
    autocast_dtype: torch.dtype | None  # the forward passes' dtype under autocast; None: off
    fp32_precision: str  # cuBLAS and cuDNN float32 math: "ieee" or "tf32"
    help: str

    @contextlib.contextmanager
    def update(self) -> Iterator[None]:
        """The float32 math of one training step (TF32 or not), restored after it. Set through
        torch's `fp32_precision` settings (torch 2.9 and later; mixing them with the legacy
        `allow_tf32` flags is an error there), the cuDNN level with its convolutions because
        inductor's convolution templates read it; older torch gets the legacy flags."""
        if not hasattr(torch.backends.cuda.matmul, "fp32_precision"):
            with _legacy_tf32(self.fp32_precision == "tf32"):
                yield
            return
        settings = (torch.backends.cuda.matmul, torch.backends.cudnn, torch.backends.cudnn.conv)
        before = [s.fp32_precision for s in settings]
        for s in settings:
            s.fp32_precision = self.fp32_precision
        try:
            yield
        finally:
            for s, value in zip(settings, before, strict=True):
                s.fp32_precision = value

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """Autocast of a forward pass of the game on `device` (a no-op context without it)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.autocast_dtype)


@contextlib.contextmanager
def _legacy_tf32(on: bool) -> Iterator[None]:
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


PRECISIONS: Registry[Precision] = Registry("precision", "train.precision")
for _p in (
    Precision("fp32", None, "ieee", "float32 throughout, no TF32 (the default)"),
    Precision("tf32", None, "tf32", "float32 tensors, CUDA matmuls and convolutions on TF32 "
                                    "tensor cores"),
    Precision("bf16", torch.bfloat16, "tf32", "forward passes of the update under bfloat16 "
                                              "autocast; weights and optimizer in float32"),
):
    PRECISIONS.register(_p.name, _p)
