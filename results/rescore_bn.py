"""Score a study's final checkpoints under both BatchNorm protocols (`eval.bn_stats`).

The inference studies trained at commit 3d86807, which scored with the running statistics
training left. Training does not depend on the protocol, so the final weights are the ones a run
at a later commit ends with; this scores them with the suite's own Evaluator, under `running`
(it reproduces the logged numbers) and `recomputed` (the later default), one CSV row each.

    python results/rescore_bn.py --grid grids/inference_mnist.yaml \
        --tracking-uri sqlite:////root/studies/inference.db --checkpoint-dir /root/studies/ckpt \
        --data-root ../shared/data --cache-dir ../wt-study-3d86807/runs/cache \
        > results/inference_mnist/rescored_bn.csv
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from pathlib import Path

import mlflow
import torch

from benchmark import checkpoint
from benchmark.batch_norm import StatisticsBatches
from benchmark.data import load_dataset
from benchmark.evaluation import Evaluator
from benchmark.grid import load_grid
from benchmark.models import build_ali, build_encoder
from benchmark.run_config import run_name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag in ("--grid", "--tracking-uri", "--checkpoint-dir", "--data-root", "--cache-dir"):
        p.add_argument(flag, required=True)
    args = p.parse_args()
    torch.set_num_threads(2)
    client = mlflow.MlflowClient(args.tracking_uri)
    grid = load_grid(args.grid, {"data.data_root": args.data_root})
    out = csv.writer(sys.stdout)
    keys = ["recon_mse", "recon_mse_mean", "recon_acc", "knn_acc", "probe_acc"]
    out.writerow(["run", "step", "bn_stats", *keys])
    for cfg in grid.runs:
        name = run_name(cfg)
        found = client.search_runs(
            [client.get_experiment_by_name(grid.name).experiment_id],
            f"attributes.run_name = '{name}' and tags.outcome = 'finished'")
        if len(found) > 1:
            raise SystemExit(f"{name}: {len(found)} finished runs; expected one")
        if not found:
            print(f"# {name}: not finished, skipped", file=sys.stderr)
            continue
        saved = checkpoint.load_latest(Path(args.checkpoint_dir) / found[0].data.tags["run_key"])
        data = load_dataset(cfg.data, cfg.seed)
        ali = build_ali(cfg.model, data.image_shape)
        ali.load_state_dict(saved["ali"])
        eval_cfg = dataclasses.replace(cfg.eval, cache_dir=args.cache_dir)
        evaluator = Evaluator(eval_cfg, data, torch.device("cpu"),
                              lambda cfg=cfg, data=data: build_encoder(cfg.model, data.image_shape),
                              cfg.seed, dataset_name=cfg.data.dataset)
        statistics = StatisticsBatches(data.train.x, cfg.data.batch_size, cfg.eval.bn_batches,
                                       ali.z_dim, cfg.seed, torch.device("cpu"))
        for protocol, model in (("running", ali),
                                ("recomputed", statistics.scoring_copy(ali, saved["step"]))):
            metrics = evaluator.evaluate(model)
            out.writerow([name, saved["step"], protocol,
                           *(round(metrics[k], 4) if k in metrics else "" for k in keys)])
            sys.stdout.flush()


if __name__ == "__main__":
    main()
