"""Faults across a whole grid: SIGKILL at random points, a truncated checkpoint, then one clean
rerun. Every run must end finished exactly once, in one MLflow run per run key, with the very
metrics of the same grid run without interruption in another store.

Related faults covered elsewhere, not repeated here: one run killed and resumed
(tests/test_training.py::test_killed_run_resumes_to_the_same_metrics), a corrupt or truncated
checkpoint file falling back to the previous one (test_corrupt_checkpoint_falls_back_to_the_
previous_one), divergence and exceptions confined to their run (test_divergence_and_errors_stay_
in_their_run), a killed grid rerun by the runner (tests/test_runner.py).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from reliability_helpers import ROOT, tiny_grid, write_grid
from runner_helpers import saved_checkpoints

from benchmark.checkpoint import checkpoints
from benchmark.grid import expand_grid
from benchmark.run_config import run_key

STEPS = 24
COMPARED = ("loss_d", "loss_g", "recon_mse")
RANDOM_KILLS = 5
# One torch thread per process: on a busy 2-core machine two OpenMP threads per process make a
# step many times slower, and results do not depend on it (deterministic kernels).
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def grid() -> dict:
    return tiny_grid("faults", base={"train": {"steps": STEPS, "log_every": 2, "eval_every": 4,
                                               "checkpoint_every": 4}},
                     axes={"seed": [0, 1, 2]})


class Invocation:
    """`python -m benchmark.run` in its own session (so killpg reaches every child), with its
    output in files: no pipe to fill up, and readable while it runs."""

    def __init__(self, folder: Path, number: int):
        self.log = folder / f"invocation_{number}.log"
        argv = [sys.executable, "-m", "benchmark.run", "--grid", str(folder / "grid.yaml"),
                "--tracking-uri", f"sqlite:///{folder}/store/mlflow.db",
                "--checkpoint-dir", str(folder / "ckpt")]
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(argv, cwd=folder, env=ENV, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, timeout: float = 300) -> bool:
        """True once `text` is in the output; False if the process ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            if self.proc.poll() is not None:
                return text in self.output()
            time.sleep(0.02)
        raise TimeoutError(f"no {text!r} after {timeout} s:\n{self.output()}")

    def kill(self) -> bool:
        """SIGKILL the whole session; True if it was still running."""
        alive = self.proc.poll() is None
        if alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return alive


class Progress:
    """How far the grid is, counted in checkpoints: position i is the i-th checkpoint of the
    uninterrupted grid (run by run, every `checkpoint_every` steps)."""

    def __init__(self, folder: Path):
        self.folder = folder
        keys = [run_key(cfg) for cfg in expand_grid(grid()).runs]  # the order runs execute in
        self.positions = [(key, step) for key in keys for step in range(4, STEPS + 1, 4)]

    def reached(self) -> int:
        saved = saved_checkpoints(self.folder / "ckpt")
        return sum(1 for key, step in self.positions if max(saved.get(key) or [0]) >= step)


def kill_when(invocation: Invocation, progress: Progress, target: int, delay: float) -> None:
    """SIGKILL `delay` seconds after the grid reaches checkpoint position `target`."""
    deadline = time.monotonic() + 300
    while progress.reached() < target:
        assert invocation.proc.poll() is None, f"ended before position {target}:\n" + (
            invocation.output())
        assert time.monotonic() < deadline, invocation.output()
        time.sleep(0.005)
    time.sleep(delay)
    assert invocation.kill(), f"the grid ended before the kill:\n{invocation.output()}"


def training_runs(folder: Path):
    client = mlflow.MlflowClient(f"sqlite:///{folder}/store/mlflow.db")
    experiment = client.get_experiment_by_name("faults")
    return client, client.search_runs([experiment.experiment_id], "tags.`alibench.kind` = 'run'")


def histories(folder: Path) -> dict[tuple[str, str], list[tuple[int, float]]]:
    client, runs = training_runs(folder)
    return {(run.data.tags["run_key"], key): sorted(
        (m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))
        for run in runs for key in COMPARED}


@pytest.mark.slow
def test_random_kills_across_a_grid_then_a_rerun_give_the_uninterrupted_metrics(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    for folder in (killed, clean):
        folder.mkdir()
        write_grid(folder, grid())
    uninterrupted = Invocation(clean, 0)  # in parallel with the faults below
    progress = Progress(killed)

    # 1. A kill right after the first run's second checkpoint (step 8), whose file is then cut
    # short (a disk fault, a copy cut off): the next invocation must warn and resume from step 4.
    kill_when(Invocation(killed, 0), progress, 2, 0.0)
    key = progress.positions[0][0]
    _, newest = checkpoints(killed / "ckpt" / key)[0]  # newest first
    newest.write_bytes(newest.read_bytes()[:newest.stat().st_size // 3])
    log = [f"kill 0 at checkpoints {saved_checkpoints(killed / 'ckpt')}; "
           f"truncated {key}/{newest.name}"]

    # 2. SIGKILL at random points: a seeded random 1-3 checkpoints further on, plus a random
    # 0-0.5 s (about one checkpoint interval), so kills land in training steps, evaluation,
    # checkpoint writes, metric logging and the end of a run. Timing alone (a random sleep
    # after start) finishes this grid before the fifth kill when a CPU is free.
    rng = random.Random(8)
    invocations = []
    for number in range(1, RANDOM_KILLS + 1):
        target = min(progress.reached() + rng.randint(1, 3), len(progress.positions))
        delay = rng.uniform(0.0, 0.5)
        invocations.append(Invocation(killed, number))
        kill_when(invocations[-1], progress, target, delay)
        log.append(f"kill {number} at position {target} + {delay:.2f} s: "
                   f"{saved_checkpoints(killed / 'ckpt')}")

    # 3. One clean rerun finishes what is left.
    rerun = Invocation(killed, 99)
    assert rerun.proc.wait(timeout=600) == 0, rerun.output()
    assert uninterrupted.proc.wait(timeout=600) == 0, uninterrupted.output()

    # The truncated checkpoint was noticed, with a warning, by the invocation that resumed it.
    later = [i.output() for i in [*invocations, rerun]]
    assert any("unreadable" in out and newest.name in out for out in later), "\n".join(log)

    # Exactly one MLflow run per run key, each finished.
    client, runs = training_runs(killed)
    keys = [run.data.tags["run_key"] for run in runs]
    assert sorted(keys) == sorted(key for key, _ in progress.positions[::STEPS // 4]), keys
    for run in runs:
        assert (run.info.status, run.data.tags["outcome"]) == ("FINISHED", "finished"), run.info

    # Every step logged once, with the values of the uninterrupted grid.
    got, want = histories(killed), histories(clean)
    assert set(got) == set(want)
    for (key, metric), points in got.items():
        steps = [step for step, _ in points]
        assert len(steps) == len(set(steps)), f"{metric} of {key}: a step logged twice: {steps}"
        assert points == want[key, metric], f"{metric} of {key} differs\n" + "\n".join(log)
    assert [s for s, _ in want[keys[0], "loss_d"]] == list(range(2, STEPS + 1, 2))
    assert [s for s, _ in want[keys[0], "recon_mse"]] == list(range(4, STEPS + 1, 4))
    print("\n".join(log))
