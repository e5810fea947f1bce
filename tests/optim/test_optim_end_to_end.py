"""The new optimizers through the real CLI on a tiny grid, and exact resume from a checkpoint:
optimistic Adam (alternating and simultaneous), lookahead-minmax over plain, extragradient and
past-extragradient optimizers, and negative momentum under the alternating scheme."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from runner_helpers import (
    TINY_CHECKPOINTED,
    MemoryTracker,
    run_cli,
    store_args,
    training_runs,
    write_grid,
)

from benchmark.checkpoint import checkpoints
from benchmark.grid import load_grid
from benchmark.run_config import run_key
from benchmark.training import train

RUNS = [
    {"optim.name": "optimistic_adam", "scheme.name": "alternating"},
    {"optim.name": "optimistic_adam", "scheme.name": "simultaneous", "optim.lookahead_k": 3},
    {"optim.name": "extra_adam", "scheme.name": "extragradient", "optim.lookahead_k": 3,
     "optim.lookahead_alpha": 0.8},
    {"optim.name": "past_extra_adam", "scheme.name": "extragradient", "optim.lookahead_k": 5},
    {"optim.name": "sgd", "scheme.name": "alternating", "optim.momentum": -0.5,
     "optim.lr_g": 0.01, "optim.lr_d": 0.01},
]
TIMES = {"cpu_time_s", "wall_time_s"}


def grid_file(folder: Path) -> Path:
    return write_grid(folder / "methods.yaml", "methods", TINY_CHECKPOINTED, runs=RUNS)


@pytest.mark.slow
def test_new_optimizers_run_through_the_cli(tmp_path: Path) -> None:
    grid = grid_file(tmp_path)
    out = run_cli(["--grid", str(grid), *store_args(tmp_path)], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    runs = training_runs(tmp_path, "methods")
    assert len(runs) == len(RUNS)
    names = sorted(r.info.run_name for r in runs)
    assert any("-la3_0.8-" in n for n in names) and any("-mom-0.5-" in n for n in names), names
    for run in runs:
        assert run.data.tags["outcome"] == "finished", run.data.tags
        assert math.isfinite(run.data.metrics["recon_mse"])
    params = {(r.data.params["optim.name"], r.data.params["optim.lookahead_k"],
               r.data.params["optim.momentum"]) for r in runs}
    assert ("past_extra_adam", "5", "0.0") in params and ("sgd", "0", "-0.5") in params


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(RUNS)))
def test_resumed_run_ends_with_the_numbers_of_an_uninterrupted_one(tmp_path: Path,
                                                                    index: int) -> None:
    """Trained to its end (checkpoints at 4, 8, 12), then resumed from step 8 (between two
    lookahead pulls for k = 3 and 5) in a fresh folder: every value logged after step 8 is equal."""
    cfg = load_grid(grid_file(tmp_path)).runs[index]
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    reference = MemoryTracker()
    assert train(cfg, reference, full / run_key(cfg)).outcome == "finished"
    (step_8,) = [path for step, path in checkpoints(full / run_key(cfg)) if step == 8]
    (resumed / run_key(cfg)).mkdir(parents=True)
    shutil.copy(step_8, resumed / run_key(cfg) / step_8.name)
    again = MemoryTracker()
    assert train(cfg, again, resumed / run_key(cfg)).outcome == "finished"
    assert again.steps() == [10, 12]
    for step in (10, 12):
        assert again.at_step(step, TIMES) == reference.at_step(step, TIMES), step
