"""Runs per hour of a grid of tiny runs under each executor, as ratios to `local`.

    PYTHONPATH=. python bench/runner.py [--runs 6] [--steps 30] [--workers 2] [--rounds 1]

Each executor runs the same grid (digits, width 0.125, z_dim 8, batch 50) through the real CLI
in a fresh process with a fresh sqlite store and checkpoint folder, so the time includes what a
user pays: interpreter start, the store, worker processes or the local Ray cluster, training,
evaluation and logging. With `--rounds N` the executors take turns N times (the order rotating)
and the median wall time is reported, so load from other jobs hits each one alike. Every run
must finish, or the figure is refused. The `local-1thread` row is a control (local with torch on
one thread): it separates what parallel workers buy from what torch's intra-op threads cost on
a machine other jobs already load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# name: (executor, extra environment). `local-1thread` is a control, not an executor: `local`
# with torch limited to one thread, to tell the executors' parallelism from the cost of torch's
# intra-op threads on a machine that other jobs already load.
VARIANTS = {"local": ("local", {}),
            "local-1thread": ("local", {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}),
            "processes": ("processes", {}),
            "ray": ("ray", {})}


def tiny_grid(runs: int, steps: int) -> dict:
    return {
        "name": "bench-runner",
        "base": {
            "data": {"dataset": "digits", "batch_size": 50},
            "model": {"z_dim": 8, "width": 0.125},
            "train": {"steps": steps, "log_every": 10, "eval_every": steps,
                      "checkpoint_every": steps},
            "eval": {"metrics": ["recon_mse"], "recon_count": 100},
        },
        "axes": {"seed": list(range(runs))},
    }


def time_grid(grid: Path, variant: str, workers: int, folder: Path, runs: int) -> float:
    """Wall seconds of one grid invocation in a fresh store; every run must finish."""
    executor, extra_env = VARIANTS[variant]
    folder.mkdir(parents=True)
    cmd = [sys.executable, "-m", "benchmark.run", "--grid", str(grid), "--executor", executor,
           "--workers", str(workers), "--tracking-uri", f"sqlite:///{folder}/mlflow.db",
           "--checkpoint-dir", str(folder / "ckpt")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra_env}
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    finished = out.stdout.count(" finished step=")
    if out.returncode != 0 or finished != runs:
        raise SystemExit(f"{variant}: {finished}/{runs} runs finished (exit {out.returncode})"
                         f"\n{out.stdout}\n{out.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=6, help="runs in the grid (default: 6)")
    parser.add_argument("--steps", type=int, default=30, help="steps per run (default: 30)")
    parser.add_argument("--workers", type=int, default=2,
                        help="workers of processes and ray (default: 2)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="times each executor runs the grid; the median counts (default: 1)")
    parser.add_argument("--executors", default=",".join(VARIANTS),
                        help=f"comma-separated, local first (default: {','.join(VARIANTS)})")
    parser.add_argument("--keep", help="keep the stores in this folder instead of a temp one")
    args = parser.parse_args()
    executors = args.executors.split(",")
    if executors[0] != "local" or not set(executors) <= set(VARIANTS):
        raise SystemExit(f"--executors: start with local, choose from: {', '.join(VARIANTS)}")

    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-runner-"))
    work.mkdir(parents=True, exist_ok=True)
    grid = work / "grid.yaml"
    grid.write_text(yaml.safe_dump(tiny_grid(args.runs, args.steps), sort_keys=False))
    times: dict[str, list[float]] = {e: [] for e in executors}
    try:
        for round_ in range(args.rounds):
            order = executors[round_ % len(executors):] + executors[:round_ % len(executors)]
            for executor in order:
                workers = 1 if executor.startswith("local") else args.workers
                folder = work / f"{executor}-{round_}"
                times[executor].append(time_grid(grid, executor, workers, folder, args.runs))
                print(f"  round {round_ + 1} {executor}: {times[executor][-1]:.1f} s",
                      file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"grid: {args.runs} runs of digits (width 0.125, z_dim 8, batch 50, {args.steps} steps)"
          f" on {cores} cores, median of {args.rounds} round(s), load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'executor':<14} {'workers':>7} {'wall s':>8} {'runs/hour':>10} {'vs local':>9}")
    local = statistics.median(times["local"])
    for executor in executors:
        seconds = statistics.median(times[executor])
        workers = 1 if executor.startswith("local") else args.workers
        print(f"{executor:<14} {workers:>7} {seconds:>8.1f} {args.runs / seconds * 3600:>10.0f} "
              f"{local / seconds:>8.2f}x")


if __name__ == "__main__":
    main()
