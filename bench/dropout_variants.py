"""Dropout implementations the hardware bench times against the suite's, and their timing.

`InductorDropout` is issue 17's `torch.compile` idea: the whole dropout (draw, compare, scale,
multiply) as one inductor kernel, which draws its uniforms inside the kernel (Philox, one
counter per element, its key drawn from torch's global generator at each call, so a run stays a
pure function of its seed) and runs on every intra-op thread. It is not the suite's: on this
machine it measured no faster (bench/README.md, "Dropout's draw").

`dropout_times` times each implementation on exactly the tensors the discriminator's dropouts
see in one forward pass (shapes and channels-last strides recorded from the real network),
forward and backward: a component's cost with a far lower noise floor than a whole step's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

_COMPILED: dict[float, Callable[[torch.Tensor], torch.Tensor]] = {}


def _inductor_dropout(keep: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """One compiled function per keep probability, for every shape (dynamic=True)."""
    if keep not in _COMPILED:
        scale = 1.0 / keep
        _COMPILED[keep] = torch.compile(
            lambda x: x * (torch.rand_like(x) < keep) * scale, dynamic=True)
    return _COMPILED[keep]


class InductorDropout(nn.Dropout):
    """Element-wise dropout compiled by inductor: same distribution, draws made in the kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return _inductor_dropout(1.0 - self.p)(x)


def dropout_inputs(discriminator: nn.Module, run: Callable[[], object]
                   ) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(shape, stride) of each dropout input during one discriminator forward inside `run()`."""
    seen: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    modules = [m for m in discriminator.modules() if isinstance(m, nn.Dropout)]

    def record(_module: nn.Module, args: tuple) -> None:
        if len(seen) < len(modules):  # the first forward only: later ones repeat the shapes
            seen.append((tuple(args[0].shape), tuple(args[0].stride())))

    hooks = [m.register_forward_pre_hook(record) for m in modules]
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def dropout_times(layouts: list[tuple[tuple[int, ...], tuple[int, ...]]],
                  variants: dict[str, nn.Module], rounds: int) -> dict[str, float]:
    """Median seconds, per variant, of forward + backward through a dropout on every layout.

    The variants take turns (the order rotating each round); `nn.Identity` gives the floor of
    the surrounding work (making the inputs' gradients).
    """
    xs = [torch.empty_strided(shape, stride).normal_().requires_grad_()
          for shape, stride in layouts]
    grads = [torch.randn_like(x) for x in xs]

    def once(module: nn.Module) -> float:
        started = time.perf_counter()
        for x, grad in zip(xs, grads, strict=True):
            module(x).backward(grad)
            x.grad = None
        return time.perf_counter() - started

    names = list(variants)
    for module in variants.values():  # warm-up (and compilation)
        once(module.train())
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(once(variants[name]))
    return {n: statistics.median(t) for n, t in times.items()}
