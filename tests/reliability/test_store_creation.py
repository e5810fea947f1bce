"""A new sqlite store cannot be broken by a kill or by a second process: SIGKILL the first grid
at several moments of the store's creation, run the same command again, and the grid runs; two
grids started at once on a new store both run. Real processes, a real store, real kills."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from runner_helpers import (
    cli_env,
    run_cli,
    start_session,
    stop_session,
    store_args,
    training_runs,
    wait_until,
    write_grid,
)

from benchmark.tracking.sqlite_store import ensure_store, holds_runs, is_complete

pytestmark = pytest.mark.slow

SHORT = {"train": {"steps": 2, "log_every": 1, "eval_every": 2, "checkpoint_every": 2}}


def _db(folder: Path) -> Path:
    return folder / "mlflow.db"


def _creating(folder: Path) -> list[Path]:
    return [p for p in folder.glob(".mlflow.db.creating-*") if p.name[-1].isdigit()]


# Moments of the creation, each a condition on what the first process has written so far.
MOMENTS: dict[str, Callable[[Path], bool]] = {
    "lock taken": lambda f: (f / ".mlflow.db.lock").exists(),
    "tables begun": lambda f: any(p.stat().st_size > 0 for p in _creating(f)),
    "migrations under way": lambda f: any(p.stat().st_size > 200_000 for p in _creating(f)),
    "store in place": lambda f: _db(f).exists(),
}


def _finished(folder: Path, experiment: str) -> list[str]:
    return [r.data.tags.get("outcome") for r in training_runs(folder, experiment)]


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_a_kill_during_the_stores_creation_then_the_same_command_runs_the_grid(tmp_path, moment):
    grid = write_grid(tmp_path / "g.yaml", "killed", SHORT)
    args = ["--grid", str(grid), *store_args(tmp_path)]
    first = start_session([sys.executable, "-m", "benchmark.run", *args], tmp_path / "first.log",
                          cwd=tmp_path)
    try:
        wait_until(lambda: MOMENTS[moment](tmp_path), 120, moment, first)
        os.killpg(first.pid, signal.SIGKILL)  # no handler runs, nothing is cleaned up
        first.wait(timeout=30)
    finally:
        stop_session(first)  # whatever of its session is left
    assert first.returncode == -signal.SIGKILL
    again = run_cli(args, tmp_path)
    assert again.returncode == 0, again.stderr
    assert _finished(tmp_path, "killed") == ["finished"]
    assert is_complete(_db(tmp_path)) and not _creating(tmp_path)


def _half_made(db: Path) -> None:
    """What a kill during MLflow's own in-place migrations leaves: an older revision, and the
    temporary table of a batch migration (the `_alembic_tmp_...` of the refusal)."""
    ensure_store(db, db.parent / "artifacts")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'bd07f7e963c5'")
        conn.execute("CREATE TABLE _alembic_tmp_experiments (experiment_id INTEGER)")
    assert not is_complete(db)


def test_a_store_left_half_made_in_place_without_runs_is_made_again(tmp_path):
    _half_made(_db(tmp_path))
    grid = write_grid(tmp_path / "g.yaml", "recovered", SHORT)
    done = run_cli(["--grid", str(grid), *store_args(tmp_path)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert _finished(tmp_path, "recovered") == ["finished"]
    assert is_complete(_db(tmp_path))


def test_a_store_that_holds_runs_is_never_removed(tmp_path):
    grid = write_grid(tmp_path / "g.yaml", "kept", SHORT)
    assert run_cli(["--grid", str(grid), *store_args(tmp_path)], tmp_path).returncode == 0
    with sqlite3.connect(_db(tmp_path)) as conn:
        conn.execute("CREATE TABLE _alembic_tmp_runs (run_uuid TEXT)")
    ensure_store(_db(tmp_path), tmp_path / "artifacts")
    assert holds_runs(_db(tmp_path))  # still there, for MLflow to explain


def test_two_grids_started_at_once_on_a_new_store_both_run(tmp_path):
    procs = []
    for name in ("first", "second"):
        grid = write_grid(tmp_path / f"{name}.yaml", name, SHORT)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "benchmark.run", "--grid", str(grid), *store_args(tmp_path)],
            cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    assert _finished(tmp_path, "first") == _finished(tmp_path, "second") == ["finished"]
