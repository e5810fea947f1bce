"""Element-wise dropout with a cheaper draw than torch's `nn.Dropout` on the CPU.

Same distribution: each activation is kept with probability 1 - p and scaled by 1 / (1 - p),
independently of every other. What changes is how the keep mask is drawn. torch's CPU dropout
draws it with `bernoulli_(1 - p)`, which off Intel CPUs takes one double-precision uniform (two
32-bit draws of the generator) per element, serially, then divides the mask in place and
multiplies. Here the mask is `torch.rand_like(x) < 1 - p`, compared in place and scaled in place:
one float32 uniform per element (the keep probability is then exact to 2^-24: 0.8 becomes
13421773 / 2^24 = 0.80000001). Like `nn.Dropout`, autograd keeps the scaled float mask for the
backward pass, which is one multiplication. The step's gain is measured by `bench/hardware.py`
(bench/README.md).

The draw remains a large part of what this dropout costs, and torch's CPU generator is serial.
`torch.compile` was measured as a way around it and is not used (bench/README.md, "Dropout's
draw"): inductor fuses the draw, compare and scale into one kernel on every thread, seeded from
the global generator (resume stays exact), but each element costs a full Philox evaluation of
which one output in four is kept, and it saves the keep mask as bool, which its AVX2 code
writes slowly; on this 2-core machine it was slower than this draw. Narrower draws (16 random
bits per element) would be cheaper but round the keep probability to 2^-16.

The draws come from torch's global generator as before, so a run stays a pure function of its
seed and a checkpoint's RNG state resumes it exactly; the numbers differ from those drawn by
`nn.Dropout` (other draws, same distribution).
"""

from __future__ import annotations

import torch
from torch import nn


class Dropout(nn.Dropout):
    """`nn.Dropout` (element-wise, inverted scaling, identity in eval mode) with the cheap draw."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        keep = 1.0 - self.p
        mask = torch.rand_like(x).lt_(keep).mul_(1.0 / keep)  # 1 / keep with prob. keep, else 0
        return x * mask
