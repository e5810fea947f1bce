"""Time `python -m benchmark.report` on a synthetic 100-run experiment (goal: under 60 s).

    PYTHONPATH=. python bench/report.py [--runs 100] [--points 50] [--keep DIR]

Logs 20 configs (5 optimizers x 2 stabilizers x 2 learning rates) x 5 seeds through
MlflowClient into a fresh sqlite store: 8 metric histories of `--points` points per run, final
metrics, 3 PNG panels per run, some diverged runs with shorter histories. Then it times the
loading alone (search_runs + the histories the figures need) and the whole CLI as a fresh
process (imports included), and prints seconds and the ratio to the 60 s goal.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
from mlflow.entities import Metric, Param, RunTag
from PIL import Image

GOAL_S = 60.0
REPO = Path(__file__).resolve().parents[1]
OPTIMIZERS = ("adam", "sgd", "extra_adam", "extra_sgd", "past_extra_adam")
STABILIZERS = ("none", "instance_noise(std=0.1)")
LRS = ("0.0002", "0.0005")
CURVES = ("loss_d", "loss_g", "d_real", "d_fake", "cpu_time_s", "wall_time_s", "recon_mse",
          "fid_inception")


def log_synthetic(root: Path, runs: int, points: int) -> str:
    """Log `runs` runs into root/mlflow.db; returns the tracking URI."""
    uri = f"sqlite:///{root}/mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("bench", artifact_location=str(root / "artifacts"))
    parent = client.create_run(exp, run_name="grid-bench", tags={"alibench.kind": "grid"})
    rng = np.random.default_rng(0)
    configs = list(itertools.product(OPTIMIZERS, STABILIZERS, LRS))
    for i in range(runs):
        optim, stab, lr = configs[i % len(configs)]
        seed = i // len(configs)
        diverged = rng.random() < 0.05
        n = points // 3 if diverged else points
        steps = np.arange(n) * 100
        tags = {"alibench.kind": "run", "run_key": f"rk{i}", "config_key": f"ck{i % len(configs)}",
                "outcome": "diverged" if diverged else "finished",
                "mlflow.parentRunId": parent.info.run_id}
        params = {"seed": str(seed), "data.dataset": "cifar10", "data.image_size": "32",
                  "optim.name": optim, "scheme.name": "alternating", "stabilizers": stab,
                  "optim.lr_g": lr, "optim.lr_d": "0.0001", "eval.fid_extractor": "inception",
                  "eval.fid_gen_count": "1000", "eval.fid_real_count": "1000",
                  **{f"extra.p{k}": str(k) for k in range(40)}}  # realistic param count
        curves = {k: rng.random(n).cumsum() if k.endswith("time_s") else rng.random(n)
                  for k in CURVES}
        metrics = [Metric(k, float(v), 0, int(s)) for k, values in curves.items()
                   for s, v in zip(steps, values, strict=True)]
        if not diverged:
            metrics += [Metric(k, float(rng.random()), 0, int(steps[-1]))
                        for k in ("probe_acc", "knn_acc", "recon_acc", "kid_inception")]
        run = client.create_run(exp, run_name=f"run{i}", tags=tags)
        client.log_batch(run.info.run_id, metrics=metrics,
                         params=[Param(k, v) for k, v in params.items()],
                         tags=[RunTag("collapsed", "false")])
        for kind in ("generation", "reconstruction", "interpolation"):
            png = root / f"{kind}.png"
            Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(png)
            client.log_artifact(run.info.run_id, str(png), "panels")
        client.set_terminated(run.info.run_id)
    return uri


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--points", type=int, default=50)
    p.add_argument("--keep", type=Path, help="use this folder instead of a temporary one")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        uri = log_synthetic(root, args.runs, args.points)
        print(f"logged {args.runs} runs x {len(CURVES)} curves x {args.points} points in "
              f"{time.perf_counter() - t0:.1f} s")

        from benchmark.reporting.loading import RunStore
        from benchmark.reporting.plots import wants_history

        t0 = time.perf_counter()
        data = RunStore(uri).load("bench", wants_history)
        load_s = time.perf_counter() - t0
        print(f"load (search_runs + {data.history.groupby(['run_id', 'key']).ngroups} "
              f"histories, {len(data.history)} points): {load_s:.2f} s")

        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "benchmark.report", "--experiment", "bench",
                        "--tracking-uri", uri, "--out", str(root / "report")], check=True,
                       cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        total = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
        print(f"report regeneration (fresh process): {total:.1f} s wall, {cpu:.1f} s CPU; "
              f"ratio to the {GOAL_S:.0f} s goal: {total / GOAL_S:.2f}")


if __name__ == "__main__":
    main()
