"""Cost of each evaluation metric at its default settings, relative to one training step.

    PYTHONPATH=. python bench/evaluation.py --data-root ../shared/data [--rounds 3] [--quick]

The 28x28 model of the seed report (width 1, z_dim 128 as in its Table 1 for MNIST) at batch 100
on real MNIST, one `alternating` Adam step (the default scheme and optimizer) as the unit. Each
metric runs alone through `Evaluator.evaluate` with `EvalConfig` defaults; steps and metrics are
timed in rotating round-robin order so machine noise (other jobs) hits them alike, and medians
are compared. Once-per-dataset work (training the FID classifier, cached on disk for the whole
grid) and once-per-run work (baselines, final panels) are timed cold, once.

The share of a default run's time spent in evaluation uses the `TrainConfig` defaults (steps,
eval_every) and must stay under 20%: for the default metrics, and for every image metric at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from collections.abc import Callable

import torch

from benchmark.data import BatchSampler, DataConfig, load_dataset
from benchmark.evaluation import METRICS, EvalConfig
from benchmark.evaluation.evaluator import Evaluator
from benchmark.models import ModelConfig, build_ali, build_encoder
from benchmark.optimizers import build_optimizer
from benchmark.run_config import TrainConfig
from benchmark.schemes import SCHEMES, Game, Players

GOAL_SHARE = 0.20
IMAGE_METRICS = sorted(n for n, m in METRICS.items() if "image" in m.kinds)


def training_step(model: ModelConfig, shape: tuple, data, batch: int) -> Callable[[], object]:
    """One update of the default scheme and optimizer, through the training code's own parts."""
    torch.manual_seed(0)
    ali = build_ali(model, shape)
    ali.train()
    sampler = BatchSampler(data, batch, seed=0)
    game = Game(ali, [], lambda: sampler.next()[0], torch.device("cpu"))
    players = Players(game, build_optimizer("adam", ali.discriminator_parameters(), 1e-5),
                      build_optimizer("adam", ali.generator_parameters(), 2e-4))
    scheme = SCHEMES["alternating"]()  # 1 D step
    return lambda: scheme.step(players)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def round_robin(jobs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median wall time of each job over `rounds`, visiting order rotating every round."""
    names = list(jobs)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(timed(jobs[name]))
    return {n: statistics.median(t) for n, t in times.items()}


def evaluation_share(per_eval: float, once: float, step: float, train: TrainConfig) -> float:
    """Evaluation's share of a run: evaluations at every eval_every and at the end, plus once."""
    evaluations = train.steps // train.eval_every + (train.steps % train.eval_every != 0)
    spent = evaluations * per_eval + once
    return spent / (spent + train.steps * step)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default=DataConfig().data_root,
                   help="folder holding mnist/ (e.g. ../shared/data)")
    p.add_argument("--rounds", type=int, default=3, help="timed repetitions of each job")
    p.add_argument("--quick", action="store_true",
                   help="width 0.125, z_dim 16, 5,000 training images: a smoke test of this script")
    args = p.parse_args()

    model = ModelConfig(z_dim=16, width=0.125) if args.quick else ModelConfig(z_dim=128, width=1.0)
    data = load_dataset(DataConfig(dataset="mnist", data_root=args.data_root,
                                   train_subset=5000 if args.quick else None), seed=0)
    shape = tuple(data.train.x.shape[1:])
    step = training_step(model, shape, data.train, 100)
    for _ in range(2):  # warm-up
        step()

    cache = tempfile.mkdtemp(prefix="alibench-bench-eval-")
    defaults = EvalConfig(cache_dir=cache)
    device = torch.device("cpu")

    def evaluator(metrics: list[str]) -> Evaluator:
        return Evaluator(dataclasses.replace(defaults, metrics=metrics), data, device,
                         lambda: build_encoder(model, shape), seed=0)

    torch.manual_seed(1)
    ali = build_ali(model, shape)
    # Once per dataset (then cached for every run of a grid): the FID classifier.
    classifier_s = timed(lambda: evaluator(["recon_acc"]).trained_classifier())
    evaluators = {name: evaluator([name]) for name in IMAGE_METRICS}
    everything = evaluator(IMAGE_METRICS)
    everything.evaluate(ali)  # warm-up (first calls allocate)
    baselines_s = timed(everything.baselines)  # once per run, cold cache
    panels_s = timed(lambda: everything.panels(ali))  # once per run (end), plus panel_steps

    jobs: dict[str, Callable[[], object]] = {"training step": step}
    jobs.update({name: (lambda e=e: e.evaluate(ali)) for name, e in evaluators.items()})
    jobs["all image metrics"] = lambda: everything.evaluate(ali)
    medians = round_robin(jobs, args.rounds)
    step_s = medians["training step"]

    n_params = sum(q.numel() for q in ali.parameters())
    print(f"evaluation cost vs one training step (alternating adam, batch 100); "
          f"{'quick' if args.quick else 'seed-report'} model ({n_params / 1e6:.2f} M parameters, "
          f"{'x'.join(map(str, shape))}, z_dim {model.z_dim}, width {model.width:g}); "
          f"MNIST {len(data.train)} train / {len(data.test)} test")
    print(f"cores: os.cpu_count()={os.cpu_count()}, torch.get_num_threads()="
          f"{torch.get_num_threads()}; medians of {args.rounds} round-robin rounds")
    print(f"{'job':<34} {'seconds':>9} {'steps':>8}")
    for name, seconds in medians.items():
        print(f"{name:<34} {seconds:>9.3f} {seconds / step_s:>8.2f}")
    for name, seconds in (("baselines (once per run, cold)", baselines_s),
                          ("panels (end of run)", panels_s),
                          ("FID classifier (once per dataset)", classifier_s)):
        print(f"{name:<34} {seconds:>9.3f} {seconds / step_s:>8.2f}")

    train = TrainConfig()
    once = panels_s + baselines_s
    default_eval = sum(medians[m] for m in defaults.metrics)
    rows = [
        (f"default metrics {defaults.metrics}", default_eval, once),
        ("all image metrics", medians["all image metrics"], once),
        ("all image metrics + classifier", medians["all image metrics"], once + classifier_s),
    ]
    print(f"share of a default run ({train.steps} steps, eval every {train.eval_every}) "
          f"spent in evaluation, goal < {GOAL_SHARE:.0%}:")
    missed = []
    for label, per_eval, extra in rows:
        share = evaluation_share(per_eval, extra, step_s, train)
        flag = "" if share < GOAL_SHARE or "classifier" in label else "  MISSED"
        if flag:
            missed.append(label)
        print(f"  {label:<48} {share:>6.1%}{flag}")
    print("(the classifier row is the first run of a grid on a new dataset: later runs load it)")
    print("goal met" if not missed else f"goal missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()
