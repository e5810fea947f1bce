"""Log the baselines a newer suite declares into the runs of a study trained before it.

A run logs its metrics' baselines at step 0. The optimizer study trained at 7df54df, before the
FID had a baseline (the pixel-Gaussian's FID, KID and IS, `gaussian_fid_<extractor>` ...). The
baselines depend on the data, the evaluation settings and the run's seed, not on training, so
this computes them with the suite's own Evaluator for each finished run of the grid, checks that
the baselines the run already logged come out the same (the same data and settings), and logs
only the missing ones at step 0, tagging the run `alibench.baselines_added` with the commit.

    python results/log_baselines.py --grid grids/optimizers.yaml \
        --tracking-uri sqlite:////root/studies/optimizers.db --data-root ../shared/data \
        --cache-dir ../wt-study-7df54df/runs/cache
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import subprocess
import sys
import time

import mlflow
import torch
from mlflow.entities import Metric, RunTag

from benchmark.data import load_dataset
from benchmark.evaluation import Evaluator
from benchmark.grid import load_grid
from benchmark.models import build_encoder
from benchmark.run_config import run_key, run_name

TAG = "alibench.baselines_added"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag in ("--grid", "--tracking-uri", "--data-root", "--cache-dir"):
        p.add_argument(flag, required=True)
    p.add_argument("--dry-run", action="store_true", help="compute and compare, log nothing")
    args = p.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    client = mlflow.MlflowClient(args.tracking_uri)
    grid = load_grid(args.grid, {"data.data_root": args.data_root})
    experiment = client.get_experiment_by_name(grid.name).experiment_id
    for cfg in grid.runs:
        name, key = run_name(cfg), run_key(cfg)  # names change across versions, keys do not
        found = client.search_runs([experiment], f"tags.run_key = '{key}' and "
                                                 "tags.outcome = 'finished'")
        if len(found) != 1:
            print(f"{name}: {len(found)} finished runs, skipped", file=sys.stderr)
            continue
        run = found[0]
        data = load_dataset(cfg.data, cfg.seed)
        evaluator = Evaluator(dataclasses.replace(cfg.eval, cache_dir=args.cache_dir), data,
                              torch.device("cpu"),
                              lambda cfg=cfg, data=data: build_encoder(cfg.model, data.image_shape),
                              cfg.seed, dataset_name=cfg.data.dataset)
        baselines = evaluator.baselines()
        logged = {k: v for k, v in baselines.items() if k in run.data.metrics}
        differ = {k: (run.data.metrics[k], v) for k, v in logged.items()
                  if not math.isclose(run.data.metrics[k], v, rel_tol=1e-6, abs_tol=1e-9)}
        if differ:
            raise SystemExit(f"{name}: logged baselines differ from recomputed ones {differ}: "
                             "not the same data or settings; nothing logged")
        missing = {k: v for k, v in baselines.items() if k not in run.data.metrics}
        print(f"{name}: {len(logged)} logged baselines match; adding "
              + (", ".join(f"{k}={v:.4g}" for k, v in sorted(missing.items())) or "nothing"))
        if missing and not args.dry_run:
            now = int(time.time() * 1000)
            client.log_batch(run.info.run_id,
                             metrics=[Metric(k, v, now, 0) for k, v in sorted(missing.items())],
                             tags=[RunTag(TAG, commit)])


if __name__ == "__main__":
    main()
