"""Executors on real parts: spawned workers sharing one sqlite store, a real Ray cluster, and
Slurm jobs through submitit's local executor."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest
from runner_helpers import (
    BIN,
    ROOT,
    TINY_DATA,
    cli_env,
    free_port,
    history,
    run_cli,
    session_members,
    start_session,
    stop_session,
    store_args,
    training_runs,
    wait_until,
    write_grid,
)

from benchmark.executors import available_cores, threads_per_worker
from benchmark.grid import load_grid
from benchmark.run_config import run_key

# Logged every `log_every` steps (training.py); evaluation metrics every `eval_every` steps.
STEP_METRICS = {"loss_d", "loss_g", "d_real", "d_fake", "d_accuracy_enc", "d_accuracy_dec",
                "d_logit_enc", "d_logit_dec", "grad_norm_d", "grad_norm_g",
                "cpu_time_s", "wall_time_s", "grad_evals"}


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_workers_times_threads_never_exceeds_the_cores(workers):
    threads = threads_per_worker(workers)
    assert threads >= 1
    assert workers * threads <= max(available_cores(), workers)


def spawned_workers(parent: int) -> list[int]:
    """Process ids of the multiprocessing workers (not the resource tracker) of `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"--multiprocessing-fork" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_process_workers_share_one_sqlite_store_and_a_killed_worker_loses_only_its_run(
        tmp_path):
    steps, eval_every = 40, 20
    grid = write_grid(tmp_path / "g.yaml", "parallel", axes={"seed": [0, 1, 2]}, base={
        "train": {"steps": steps, "log_every": 1, "eval_every": eval_every,
                  "checkpoint_every": 5}})
    args = ["--grid", str(grid), *store_args(tmp_path), "--executor", "processes",
            "--workers", "2"]
    grid_proc = start_session([sys.executable, "-m", "benchmark.run", *args],
                              tmp_path / "log.txt", tmp_path)
    try:
        # Both workers are in the middle of a run once two runs have a checkpoint.
        wait_until(lambda: len({p.parent for p in (tmp_path / "ckpt").glob("*/step_*.pt")}) == 2,
                   300, "two runs with a checkpoint", grid_proc)
        workers = spawned_workers(grid_proc.pid)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)  # one worker dies; the grid goes on
        assert grid_proc.wait(timeout=600) == 1, "a grid with an interrupted run exits 1"
    finally:
        stop_session(grid_proc)
    log = (tmp_path / "log.txt").read_text()
    outcomes = {line.split()[3].strip("[]"): line.split()[4] for line in log.splitlines()
                if line.startswith("[")}
    assert sorted(outcomes) == sorted(run_key(r) for r in load_grid(grid).runs)
    assert sorted(outcomes.values()) == ["finished", "finished", "interrupted"], log

    # The dead worker's run is left to resume; the other two lost nothing: every point of
    # their curves is in the store, once.
    runs = training_runs(tmp_path, "parallel")
    assert sorted(r.data.tags["run_key"] for r in runs) == sorted(outcomes)
    killed = [r for r in runs if outcomes[r.data.tags["run_key"]] == "interrupted"]
    assert [(r.info.status, r.data.tags["outcome"]) for r in killed] == [("RUNNING", "running")]
    runs = [r for r in runs if r not in killed]
    names = set(runs[0].data.metrics)
    assert STEP_METRICS | {"recon_mse"} <= names
    for run in runs:
        assert (run.info.status, run.data.tags["outcome"]) == ("FINISHED", "finished")
        assert set(run.data.metrics) == names
        for metric in names:
            steps_logged = [s for s, _ in history(tmp_path, run.info.run_id, metric)]
            if metric in STEP_METRICS:
                expected = list(range(1, steps + 1))
            elif steps_logged[0] == 0:  # a baseline, logged once before training
                expected = [0]
            else:  # an evaluation metric
                expected = list(range(eval_every, steps + 1, eval_every))
            assert steps_logged == expected, f"{run.data.tags['run_key']} {metric}"


@pytest.mark.slow
def test_a_tiny_grid_runs_on_a_real_local_ray_cluster(tmp_path):
    # A short temp dir: Ray's unix socket paths must stay under 108 characters.
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    port, *others = (free_port() for _ in range(8))
    names = ["--node-manager-port", "--object-manager-port", "--dashboard-port",
             "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
             "--metrics-export-port", "--runtime-env-agent-port"]
    ports = [arg for pair in zip(names, map(str, others), strict=True) for arg in pair]
    # The cluster starts in a folder of its own, as a real one does: its workers must still
    # find the grid's store and checkpoints, given here relative to the grid's folder.
    head_dir = tmp_path / "head"
    head_dir.mkdir()
    # Token authentication with a token of the test's own: Ray (2.60) has `ray start --head`
    # turn it on by itself when ~/.ray/auth_token exists (any local `ray.init()` writes one),
    # and a driver given an address joins only with RAY_AUTH_MODE=token and the token.
    env = {**cli_env(), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    head = start_session(
        [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
         "--port", str(port), "--num-cpus", "2", "--include-dashboard", "false",
         "--disable-usage-stats", "--temp-dir", str(ray_tmp),
         "--object-store-memory", str(100 * 2**20), *ports],
        tmp_path / "ray.log", head_dir, env)
    try:
        wait_until(lambda: "Ray runtime started" in (tmp_path / "ray.log").read_text(), 120,
                   "the Ray head", head)
        grid = write_grid(tmp_path / "g.yaml", "on-ray", axes={"seed": [0, 1]},
                          base={"train": {"steps": 6}})
        out = run_cli(["--grid", str(grid), "--tracking-uri", "sqlite:///mlflow.db",
                       "--checkpoint-dir", "ckpt", "--executor", "ray",
                       "--ray-address", f"127.0.0.1:{port}"], tmp_path, env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.count(" finished step=6 ") == 2, out.stdout + out.stderr
    finally:
        stop_session(head)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    runs = training_runs(tmp_path, "on-ray")
    assert len(runs) == 2
    assert all((r.info.status, r.data.tags["outcome"]) == ("FINISHED", "finished") for r in runs)
    assert {len(history(tmp_path, r.info.run_id, "loss_d")) for r in runs} == {3}
    assert len(list((tmp_path / "ckpt").glob("*/step_000000006.pt"))) == 2
    assert not list(head_dir.iterdir()), "a worker wrote beside the cluster, not the grid"


# --- slurm, through submitit's local executor (the same jobs, no cluster) --------------------

SLURM_LOCAL = ["--executor", "slurm", "--slurm-cluster", "local", "--slurm-cpus", "1"]


def job_tasks(sid: int) -> list[int]:
    """Process ids of the submitit job tasks (the processes that run `execute`) of a session."""
    found = []
    for pid in session_members(sid):
        with contextlib.suppress(OSError):
            if b"submitit.core._submit" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


def latest_step(folder: Path) -> int:
    steps = [int(p.stem.split("_")[1]) for p in folder.glob("step_*.pt")]
    return max(steps, default=0)


@pytest.mark.slow
def test_the_smoke_grid_runs_as_slurm_jobs_through_submitit(tmp_path):
    out = run_cli(["--grid", str(ROOT / "grids" / "smoke.yaml"), "--data-root", str(TINY_DATA),
                   *store_args(tmp_path), *SLURM_LOCAL, "--slurm-folder", str(tmp_path / "jobs")],
                  tmp_path, timeout=1200)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count(" finished step=20 ") == 3, out.stdout + out.stderr
    assert "submitted 3 runs as local jobs" in out.stderr
    runs = training_runs(tmp_path, "smoke")
    assert sorted(r.data.tags["run_key"] for r in runs) == sorted(
        run_key(r) for r in load_grid(ROOT / "grids" / "smoke.yaml").runs)
    assert all((r.info.status, r.data.tags["outcome"]) == ("FINISHED", "finished") for r in runs)
    assert len(list((tmp_path / "jobs").glob("*_result.pkl"))) == 3  # one job per run


@pytest.mark.slow
def test_a_preempted_job_requeues_and_a_killed_one_resumes_on_the_next_invocation(tmp_path):
    steps, every = 600, 10
    grid = write_grid(tmp_path / "g.yaml", "on-slurm", base={"train": {
        "steps": steps, "log_every": every, "eval_every": 1000, "checkpoint_every": every}})
    (cfg,) = load_grid(grid).runs
    ckpt = tmp_path / "ckpt" / run_key(cfg)
    args = ["--grid", str(grid), *store_args(tmp_path), *SLURM_LOCAL,
            "--slurm-folder", str(tmp_path / "jobs")]
    first = start_session([sys.executable, "-m", "benchmark.run", *args], tmp_path / "log.txt",
                          tmp_path)
    try:
        # Preemption: Slurm signals the job (SIGUSR2); submitit asks the run for its
        # checkpoint call and requeues it; the job starts again and resumes the run.
        wait_until(lambda: latest_step(ckpt) and job_tasks(first.pid), 300, "a checkpoint",
                   first)
        (task,) = job_tasks(first.pid)
        preempted_at = latest_step(ckpt)
        os.kill(task, signal.SIGUSR2)
        wait_until(lambda: [t for t in job_tasks(first.pid) if t != task], 120,
                   "the requeued job", first)
        wait_until(lambda: latest_step(ckpt) > preempted_at, 120,
                   "a checkpoint of the requeued job", first)
        # A job killed outright (node lost, OOM killer): no signal to answer, no requeue.
        (task,) = job_tasks(first.pid)
        killed_at = latest_step(ckpt)
        os.kill(task, signal.SIGKILL)
        assert first.wait(timeout=120) == 1, "a grid with an interrupted run exits 1"
    finally:
        stop_session(first)
    log = (tmp_path / "log.txt").read_text()
    assert " interrupted " in log and "ended without a result" in log and killed_at < steps, log
    assert "this job is preempted" in "".join(p.read_text() for p in (tmp_path / "jobs").glob("*.err"))

    again = run_cli(args, tmp_path, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f" finished step={steps} " in again.stdout, again.stdout + again.stderr
    (run,) = training_runs(tmp_path, "on-slurm")  # resumed in the same MLflow run
    assert (run.info.status, run.data.tags["outcome"]) == ("FINISHED", "finished")
    logged = [s for s, _ in history(tmp_path, run.info.run_id, "loss_d")]
    assert logged == list(range(every, steps + 1, every)), "every step logged exactly once"


@pytest.mark.parametrize("threads", [None, 1])
def test_process_workers_train_with_the_threads_asked_for_and_say_so(tmp_path, threads):
    """--threads reaches the spawned workers (it was once ignored there, so one worker trained
    with both cores' threads beside another study and doubled its cpu_time_s)."""
    grid = write_grid(tmp_path / "g.yaml", "threads", axes={"seed": [0]}, base={
        "train": {"steps": 2, "log_every": 1, "eval_every": 2, "checkpoint_every": 2}})
    args = ["--grid", str(grid), *store_args(tmp_path), "--executor", "processes",
            "--workers", "1", *(["--threads", str(threads)] if threads else [])]
    assert run_cli(args, tmp_path).returncode == 0
    [run] = training_runs(tmp_path, "threads")
    assert run.data.tags["torch_threads"] == str(threads or threads_per_worker(1))
