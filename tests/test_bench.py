"""The performance benches still run and measure what they say (their figures are not tested).

The training bench (`--quick`) and the CLI part of the scale bench run as a user runs them, from
the checkout's root, and must print their tables; the 500-run grid that `bench/scale.py` times
must really be 500 runs, and the FLOP count must scale as convolution work does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from environment import shared_data

from bench.common import PAPER_MODELS, bare_step
from bench.hardware import step_flops
from bench.scale import grid_500
from benchmark.grid import expand_grid
from benchmark.models import ModelConfig
from benchmark.run_config import run_key

ROOT = Path(__file__).resolve().parents[1]


def test_the_scale_bench_grid_has_500_distinct_valid_runs():
    grid = expand_grid(grid_500(), "bench/scale.py")
    assert len(grid.runs) == 500
    assert len({run_key(run) for run in grid.runs}) == 500


def test_flops_of_an_update_grow_with_the_batch_and_the_width():
    """FlopCounterMode sees the convolutions of forward and backward: linear in batch and
    roughly quadratic in width, as convolution work is."""
    paper = PAPER_MODELS["28x28"]
    small, wide = ModelConfig(z_dim=16, width=0.125), ModelConfig(z_dim=16, width=0.25)

    def flops(model, batch: int) -> int:
        return step_flops(bare_step(model, paper.shape, torch.rand(batch, *paper.shape)).run)

    base = flops(small, 8)
    assert flops(small, 16) == pytest.approx(2 * base, rel=0.02)
    assert 3.0 < flops(wide, 8) / base < 4.2


def run_bench(*argv: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_training_bench_compares_the_loop_with_the_bare_update():
    out = run_bench("bench/training.py", "--quick", "--models", "28x28", "--data-root",
                    str(shared_data("mnist")))
    assert "bare img/s" in out and "\n28x28 " in out
    assert "goal (total < 5%):" in out


@pytest.mark.slow
def test_scale_bench_times_the_cli():
    out = run_bench("bench/scale.py", "--quick", "--parts", "cli", "--repeat", "1")
    for row in ("--help", "--dry-run, 500 runs, no store yet", "--dry-run, 500 runs, store exists"):
        assert row in out


@pytest.mark.slow
def test_the_compiled_dropout_keeps_the_distribution_and_resumes_from_the_rng_state():
    """Inductor draws inside its kernel from a key taken off torch's global generator: the same
    seed gives the same mask and gradient, a restored RNG state the same next draws, and each
    element is kept with probability 1 - p, independently of its neighbour (2M elements)."""
    from bench.dropout_variants import InductorDropout

    dropout = InductorDropout(0.2)
    x = torch.ones(100, 32, 28, 28).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()

    def once() -> tuple[torch.Tensor, torch.Tensor]:
        y = dropout(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        return y, grad

    torch.manual_seed(7)
    first = once()
    state = torch.get_rng_state()
    following = once()
    torch.manual_seed(7)
    assert all(torch.equal(a, b) for a, b in zip(first, once(), strict=True))
    torch.set_rng_state(state)
    assert all(torch.equal(a, b) for a, b in zip(following, once(), strict=True))
    assert not torch.equal(first[0], following[0])
    kept = (first[0] != 0).flatten().double()
    n = kept.numel()
    assert set(first[0].unique().tolist()) == {0.0, 1.25}
    assert abs(kept.mean().item() - 0.8) < 5 * (0.16 / n) ** 0.5
    assert abs((kept[:-1] * kept[1:]).mean().item() - 0.64) < 5 * (0.64 / n) ** 0.5
