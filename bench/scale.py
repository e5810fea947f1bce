"""Scale: one run's time and memory as data, image size and batch grow; grids as workers grow;
the CLI's own start-up.

    PYTHONPATH=. python bench/scale.py --data-root ../shared/data [--steps 20] [--quick]
        [--parts runs,workers,cli]

- runs: one short run per configuration through the real CLI (`python -m benchmark.run`, local
  executor) in a fresh process, store and cache; one factor at a time from MNIST 10k, 28x28,
  batch 100 (the seed report's 28x28 model at width 1, z_dim 128): the dataset (digits, MNIST
  1k/10k/60k), the image size (28/32/64) and the batch (50/100/200). Reported: the process's
  wall time, its peak RSS (its own rusage, through a small launcher: see `LAUNCHER`) and
  seconds per step from the run's own `wall_time_s` metric (steps log_every..steps, no
  evaluation inside).
- workers: runs per hour of bench/runner.py's tiny grid under `local` and `processes` with
  1, 2 and 4 workers (bench/runner.py's own `time_grid`).
- cli: `python -m benchmark.run --help`, and `--dry-run` of a 500-run grid (5 learning rates x
  5 stabilizer settings x 20 seeds on digits) against no store and against a store holding the
  grid's experiment; medians of `--repeat` fresh processes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.common import machine_line, wait_for_quiet

ROOT = Path(__file__).resolve().parents[1]
LOG_EVERY = 5


@dataclass(frozen=True)
class Point:
    """One configuration of the runs part: the factor that moved and its value."""

    factor: str
    value: str
    dataset: str = "mnist"
    train_subset: int | None = 10_000
    image_size: int = 28
    batch_size: int = 100


POINTS = (
    Point("dataset", "digits (1,500)", dataset="digits", train_subset=None),
    Point("dataset", "MNIST 1k", train_subset=1_000),
    Point("dataset", "MNIST 10k"),
    Point("dataset", "MNIST 60k", train_subset=None),
    Point("image size", "32", image_size=32),
    Point("image size", "64", image_size=64),
    Point("batch", "50", batch_size=50),
    Point("batch", "200", batch_size=200),
)
BASE = "MNIST 10k, 28x28, batch 100"


@dataclass
class Measured:
    wall_s: float
    rss_mb: float
    step_s: float


def run_grid(point: Point, steps: int, width: float) -> dict:
    data = {"dataset": point.dataset, "image_size": point.image_size,
            "batch_size": point.batch_size}
    if point.train_subset:
        data["train_subset"] = point.train_subset
    return {
        "name": "bench-scale",
        "base": {
            "data": data,
            "model": {"z_dim": 128, "width": width},
            "train": {"steps": steps, "log_every": LOG_EVERY},
            "eval": {"metrics": ["recon_mse"], "recon_count": 250},  # digits has 297 test images
        },
    }


# Runs the command and writes its peak RSS (KB) to argv[1]. A child's ru_maxrss starts from
# the RSS of the process it was forked from, so this small launcher, not this bench (which has
# torch loaded), is the one that forks the measured command.
LAUNCHER = """import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def cli(args: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (MB) of `python -m benchmark.run ARGS` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rss_path = cwd / "maxrss.txt"
    command = [sys.executable, "-c", LAUNCHER, str(rss_path),
               sys.executable, "-m", "benchmark.run", *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}\n{done.stdout}\n"
                         f"{done.stderr[-3000:]}")
    return seconds, int(rss_path.read_text()) / 1024, done


def step_seconds(uri: str, steps: int) -> float:
    """Seconds per step from the run's `wall_time_s` metric (logged before the evaluation)."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("bench-scale")
    (run,) = client.search_runs([experiment.experiment_id], "tags.`alibench.kind` = 'run'")
    wall = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "wall_time_s")}
    return (wall[steps] - wall[LOG_EVERY]) / (steps - LOG_EVERY)


def measure_point(point: Point, steps: int, width: float, data_root: str, work: Path) -> Measured:
    folder = work / f"{point.factor}-{point.value}".replace(" ", "_").replace("/", "_")
    folder.mkdir(parents=True)
    grid = folder / "grid.yaml"
    grid.write_text(yaml.safe_dump(run_grid(point, steps, width), sort_keys=False))
    uri = f"sqlite:///{folder}/mlflow.db"
    wall, rss, done = cli(["--grid", str(grid), "--tracking-uri", uri, "--checkpoint-dir",
                           str(folder / "ckpt"), "--data-root", data_root], folder)
    if " finished step=" not in done.stdout:
        raise SystemExit(f"{point}: the run did not finish\n{done.stdout}\n{done.stderr[-3000:]}")
    return Measured(wall, rss, step_seconds(uri, steps))


def part_runs(args: argparse.Namespace, work: Path) -> None:
    width = 0.125 if args.quick else 1.0
    results = [(p, measure_point(p, args.steps, width, args.data_root, work)) for p in POINTS]
    print(f"one run of {args.steps} steps (28x28-table model at width {width:g}, z_dim 128, "
          f"alternating adam, recon_mse at the end), one factor at a time from {BASE}")
    print(f"{'factor':<11} {'value':<15} {'wall s':>7} {'s/step':>7} {'img/s':>7} "
          f"{'peak RSS MB':>11}")
    for point, m in results:
        print(f"{point.factor:<11} {point.value:<15} {m.wall_s:>7.1f} {m.step_s:>7.3f} "
              f"{point.batch_size / m.step_s:>7.1f} {m.rss_mb:>11.0f}")


def part_workers(args: argparse.Namespace, work: Path) -> None:
    from bench.runner import time_grid, tiny_grid

    runs, steps = (4, 10) if args.quick else (args.grid_runs, 30)
    grid = work / "workers-grid.yaml"
    grid.write_text(yaml.safe_dump(tiny_grid(runs, steps), sort_keys=False))
    settings = [("local", 1), ("processes", 1), ("processes", 2), ("processes", 4)]
    seconds = {s: time_grid(grid, s[0], s[1], work / f"workers-{s[0]}-{s[1]}", runs)
               for s in settings}
    local = seconds[("local", 1)]
    print(f"grid of {runs} tiny runs (bench/runner.py's: digits, width 0.125, z_dim 8, batch 50,"
          f" {steps} steps), whole CLI invocation in a fresh store")
    print(f"{'executor':<10} {'workers':>7} {'wall s':>7} {'runs/hour':>9} {'vs local':>8}")
    for (executor, workers), s in seconds.items():
        print(f"{executor:<10} {workers:>7} {s:>7.1f} {runs / s * 3600:>9.0f} {local / s:>7.2f}x")


def grid_500() -> dict:
    """5 learning rates x 5 stabilizer settings x 20 seeds on digits: 500 runs."""
    return {
        "name": "bench-scale-500",
        "base": {"data": {"dataset": "digits"}, "model": {"z_dim": 32, "width": 0.25},
                 "eval": {"recon_count": 297}},  # digits has 297 test images (preflight)
        "axes": {
            "optim.lr_g": [1e-4, 2e-4, 5e-4, 1e-3, 2e-3],
            "stabilizers": [
                [],
                [{"name": "instance_noise", "std": 0.1}],
                [{"name": "label_smoothing", "alpha": 0.1}],
                [{"name": "gradient_penalty", "gamma": 10.0}],
                [{"name": "instance_noise", "std": 0.1}, {"name": "label_smoothing"}],
            ],
            "seed": list(range(20)),
        },
    }


def part_cli(args: argparse.Namespace, work: Path) -> None:
    folder = work / "cli"
    folder.mkdir()
    grid = folder / "grid500.yaml"
    grid.write_text(yaml.safe_dump(grid_500(), sort_keys=False))
    fresh = f"sqlite:///{folder}/none/mlflow.db"
    stored = f"sqlite:///{folder}/store/mlflow.db"
    from benchmark.tracking import MlflowStore  # a store that knows the grid's experiment

    MlflowStore(stored).experiment_id(grid_500()["name"])
    jobs = {
        "--help": ["--help"],
        "--dry-run, 500 runs, no store yet": ["--grid", str(grid), "--dry-run",
                                              "--tracking-uri", fresh],
        "--dry-run, 500 runs, store exists": ["--grid", str(grid), "--dry-run",
                                              "--tracking-uri", stored],
    }
    times: dict[str, list[float]] = {name: [] for name in jobs}
    memory: dict[str, float] = {}
    for _ in range(args.repeat):
        for name, argv in jobs.items():
            seconds, rss, done = cli(argv, folder)
            if "--dry-run" in argv and "500 runs" not in done.stdout:
                raise SystemExit(f"{name}: expected 500 runs\n{done.stdout[:2000]}")
            times[name].append(seconds)
            memory[name] = rss
    print(f"python -m benchmark.run, medians of {args.repeat} fresh processes")
    print(f"{'command':<36} {'seconds':>8} {'peak RSS MB':>11}")
    for name, values in times.items():
        print(f"{name:<36} {statistics.median(values):>8.2f} {memory[name]:>11.0f}")


PARTS = {"runs": part_runs, "workers": part_workers, "cli": part_cli}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default="data", help="folder holding mnist/")
    p.add_argument("--steps", type=int, default=20, help="steps of each measured run "
                                                         "(a multiple of 5, >= 10; default: 20)")
    p.add_argument("--grid-runs", type=int, default=8, help="runs of the workers part's grid")
    p.add_argument("--repeat", type=int, default=3, help="processes per CLI timing")
    p.add_argument("--parts", default=",".join(PARTS), help=f"from {', '.join(PARTS)}")
    p.add_argument("--quick", action="store_true", help="width 0.125, tiny grids: smoke test")
    p.add_argument("--wait-load", type=float, default=0.0,
                   help="first wait (up to 20 min) for a 1-minute load below this (0: don't)")
    args = p.parse_args()
    if args.steps % LOG_EVERY or args.steps < 2 * LOG_EVERY:
        p.error(f"--steps: expected a multiple of {LOG_EVERY} of at least {2 * LOG_EVERY}")
    args.data_root = str(Path(args.data_root).resolve())  # the CLI runs in its own folder
    parts = args.parts.split(",")
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        p.error(f"--parts: unknown {', '.join(unknown)}; choose from: {', '.join(PARTS)}")
    if args.wait_load:
        wait_for_quiet(args.wait_load, 1200)
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="alibench-bench-scale-") as tmp:
        for name in parts:
            PARTS[name](args, Path(tmp))
            print(f"  (load after {name}: {os.getloadavg()[0]:.2f})", flush=True)


if __name__ == "__main__":
    main()
