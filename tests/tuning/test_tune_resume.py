"""`python -m benchmark.tune` end to end in real subprocesses: SIGKILLed mid-search and rerun
with the same command, it ends with exactly trials x configs trials, each one MLflow run (none
repeated, none lost), and the same trials, outcomes and objectives as a search never killed.
Its confirmation grid is one `benchmark.run --dry-run` accepts."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from runner_helpers import ROOT, cli_env, run_cli, start_session, training_runs, wait_until

from benchmark.grid_yaml import GridLoader

SMOKE = ROOT / "grids" / "tune" / "smoke.yaml"
TRIALS, CONFIGS = 3, 2


def tiny_grid(path: Path) -> Path:
    """The smoke grid, smaller: 3 trials of 12 steps, rungs at 4 and 8, checkpoints every 4."""
    raw = yaml.safe_load(SMOKE.read_text())  # 1e-5 stays the text, read as a float by the grid
    raw["base"]["train"].update(eval_every=4, checkpoint_every=4, log_every=4)
    raw["base"]["eval"]["recon_count"] = 60
    raw["search"].update(trials=TRIALS, budget={"train.steps": 12}, startup_trials=1,
                         pruner={"name": "successive_halving", "rungs": [4, 8]})
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def tune_args(grid: Path, folder: Path) -> list[str]:
    return [sys.executable, "-m", "benchmark.tune", "--grid", str(grid), "--threads", "1",
            "--tracking-uri", f"sqlite:///{folder}/mlflow.db", "--checkpoint-dir",
            str(folder / "ckpt"), "--storage", f"sqlite:///{folder}/optuna.db",
            "--out", str(folder / "out")]


def tune(grid: Path, folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(tune_args(grid, folder), cwd=folder, env=cli_env(),
                          capture_output=True, text=True, timeout=900)


def trials_table(folder: Path) -> list[dict]:
    with (folder / "out" / "trials.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_sigkill_mid_search_then_rerun_ends_with_every_trial_once(tmp_path):
    grid = tiny_grid(tmp_path / "tiny.yaml")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir(), killed.mkdir()

    done = tune(grid, whole)
    assert done.returncode == 0, done.stderr[-3000:]

    proc = start_session(tune_args(grid, killed), killed / "first.log", cwd=killed)
    try:  # the third trial run has a checkpoint: killed inside a trial, two trials told
        wait_until(lambda: len([p for p in (killed / "ckpt").glob("*/step_*.pt")]) >= 1
                   and len({p.parent for p in (killed / "ckpt").glob("*/step_*.pt")}) >= 3,
                   600, "a third trial run checkpointed", proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (killed / "out").exists()
    assert "running" in {r.data.tags["outcome"] for r in training_runs(killed, "tune_smoke")}
    rerun = tune(grid, killed)
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    runs = training_runs(killed, "tune_smoke")
    trials = sorted((r.data.tags["tune.config"], int(r.data.tags["tune.trial"])) for r in runs)
    labels = sorted({label for label, _ in trials})
    assert len(labels) == CONFIGS
    assert trials == [(label, n) for label in labels for n in range(TRIALS)]  # once each
    assert len({r.data.tags["run_key"] for r in runs}) == TRIALS * CONFIGS
    assert {r.data.tags["outcome"] for r in runs} <= {"finished", "pruned"}
    assert all(r.info.status == "FINISHED" for r in runs)

    table = trials_table(killed)
    assert len(table) == TRIALS * CONFIGS
    assert {row["state"] for row in table} <= {"complete", "pruned"}
    assert table == trials_table(whole)  # the same params, outcomes and objectives

    confirm = killed / "out" / "confirm.yaml"
    assert (killed / "out" / "best_so_far.png").stat().st_size > 0
    check = run_cli(["--grid", str(confirm), "--dry-run", "--tracking-uri",
                     f"sqlite:///{tmp_path}/none.db"], cwd=ROOT)
    assert check.returncode == 0, check.stderr
    seeds = yaml.load(confirm.read_text(), Loader=GridLoader)["axes"]["seed"]
    assert len(seeds) >= 5 and 0 not in seeds
    assert check.stdout.count("  new  ") == 5 * len(
        [row for row in csv.DictReader((killed / "out" / "best.csv").open())
         if row["best_trial"] != ""])
