"""Training throughput of the paper models: the suite's full loop against the bare update.

    PYTHONPATH=. python bench/training.py --data-root ../shared/data [--rounds 1] [--quick]

For the 32x32 model (CIFAR-10, 3 channels, z_dim 256) and the 28x28 model (MNIST, 1 channel,
z_dim 128), width 1, batch 100, the default scheme and optimizer (alternating Adam):

- bare: the update scheme's step on one fixed batch: forward and backward passes and the
  optimizer steps of the same networks, no data pipeline, stabilizers, tracking or evaluation;
- loop: `benchmark.training.train` itself, with a real MLflow tracker in a fresh sqlite store,
  instance noise, real data through the sampler, and the default cadence of `TrainConfig`
  (log every 10 steps, evaluate and checkpoint every 500 and at the end).

Bare and loop take turns step by step: after each step of the loop (in `train`'s `progress`
callback) one bare update runs, and the loop's next step is timed from when it returns. Drift
of the machine (other jobs, CPU frequency, the allocator's state) hits both alike, which whole
blocks of bare steps before and after the loop did not ensure (their overhead swung between
0% and 6% from run to run). The `progress(step)` timestamps split the loop's time: per-step
cost over whole logging cycles (steps 11..N-1; medians of single steps for loop and bare
alike, so a stall caused by another job is not counted as overhead, and the logging steps'
extra amortised over log_every), the last step's extra (one evaluation + one checkpoint,
amortised over their 500-step cadence), and once-per-run work (build, data, baselines; final
panels).
Goal: per-step overhead plus amortised evaluation and checkpoint under 5% of the bare step.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.common import (
    BATCH,
    PAPER_MODELS,
    PaperModel,
    bare_step,
    machine_line,
    step_times,
    wait_for_quiet,
)
from benchmark.data import as_float, load_dataset
from benchmark.evaluation import EvalConfig
from benchmark.models import ModelConfig
from benchmark.run_config import RunConfig, TrainConfig, flat_params, run_key, run_name, validate_run
from benchmark.tracking import TAG_RUN_KEY, MlflowStore
from benchmark.training import train

GOAL = 0.05
STABILIZERS = [{"name": "instance_noise", "std": 0.1}]


@dataclass
class LoopTiming:
    plain: list[float]  # seconds of the steps that neither logged nor evaluated (after warm-up)
    logged: list[float]  # seconds of the steps that also logged (every log_every)
    bare: list[float]  # seconds of the bare updates run between the loop's steps
    last_s: float  # the last step: it logs, evaluates and checkpoints
    startup_s: float  # from calling train to the end of the first step, minus one step
    finish_s: float  # after the last step: the final panels


def run_config(paper: PaperModel, model: ModelConfig, data_root: str, steps: int,
               cache: Path) -> RunConfig:
    cfg = RunConfig(seed=0, device="cpu", data=paper.data(data_root), model=model,
                    stabilizers=[dict(s) for s in STABILIZERS],
                    train=TrainConfig(steps=steps),
                    eval=EvalConfig(cache_dir=str(cache)))
    validate_run(cfg)
    return cfg


def time_loop(cfg: RunConfig, store: MlflowStore, experiment: str, checkpoints: Path,
              bare: Callable[[], object]) -> LoopTiming:
    """One full `train` call into a new MLflow run, with one `bare` update after each step."""
    key = run_key(cfg)
    run_id = store.start_run(experiment, run_name(cfg), flat_params(cfg), {TAG_RUN_KEY: key}, None)
    last, log = cfg.train.steps, cfg.train.log_every
    ended_at: dict[int, float] = {}  # step -> when the loop finished it
    resumed_at: dict[int, float] = {}  # step -> when the bare update after it returned
    bare_s: list[float] = []

    def between_steps(step: int) -> None:
        ended_at[step] = time.perf_counter()
        if step < last:
            bare()
            resumed_at[step] = time.perf_counter()
            bare_s.append(resumed_at[step] - ended_at[step])

    started = time.perf_counter()
    result = train(cfg, store.tracker(run_id), checkpoints, between_steps)
    finished = time.perf_counter()
    if result.outcome != "finished":
        raise SystemExit(f"the timed run ended {result.outcome} at step {result.step}")
    # The first logging cycle is the warm-up; the last step also evaluates and checkpoints.
    seconds = {s: ended_at[s] - resumed_at[s - 1] for s in range(log + 1, last + 1)}
    plain = [t for s, t in seconds.items() if s % log and s < last]
    logged = [t for s, t in seconds.items() if not s % log and s < last]
    return LoopTiming(plain, logged, bare_s[log:], seconds[last],
                      ended_at[1] - started - statistics.median(plain), finished - ended_at[last])


def measure(paper: PaperModel, model: ModelConfig, data_root: str, loop_steps: int,
            rounds: int, work: Path) -> dict:
    """`rounds` loops, each with bare updates between its steps; medians over the rounds.

    Medians of single steps, so a stall from another job does not count as loop overhead; the
    steps that log are compared with the plain ones and amortised over `log_every`.
    """
    cfg = run_config(paper, model, data_root, loop_steps, work / "cache")
    data = load_dataset(cfg.data, cfg.seed)
    batch = as_float(data.train.x[:BATCH])  # (B, C, H, W) in [0, 1]
    store = MlflowStore(f"sqlite:///{work}/mlflow.db")
    experiment = store.experiment_id("bench-training")
    log, median = cfg.train.log_every, statistics.median
    bare = bare_step(model, paper.shape, batch).run
    step_times(bare, 0)  # warm-up: the first calls allocate and pick kernels
    rows = []
    for r in range(rounds):
        loop = time_loop(cfg, store, experiment, work / f"ckpt-{paper.label}-{r}", bare)
        reference, plain, logged = median(loop.bare), median(loop.plain), median(loop.logged)
        step_s = plain + (logged - plain) / log  # a step with its share of logging
        eval_checkpoint_s = loop.last_s - logged
        rows.append({"bare_s": reference, "loop_s": step_s,
                     "overhead": step_s / reference - 1,
                     "logging": (logged - plain) / log / reference,
                     "amortised": eval_checkpoint_s / cfg.train.eval_every / reference,
                     "eval_checkpoint_s": eval_checkpoint_s, "startup_s": loop.startup_s,
                     "finish_s": loop.finish_s})
    return {k: median(row[k] for row in rows) for k in rows[0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default="data", help="folder holding mnist/ and cifar10/")
    p.add_argument("--rounds", type=int, default=2,
                   help="timed runs per model, medians over them (default: 2)")
    p.add_argument("--loop-steps", type=int, default=41,
                   help="steps of each timed run, 10k+1 (default: 41)")
    p.add_argument("--models", default=",".join(PAPER_MODELS),
                   help=f"comma-separated, from {', '.join(PAPER_MODELS)}")
    p.add_argument("--quick", action="store_true",
                   help="width 0.125 and few steps: a smoke test of this script")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's own, all cores)")
    p.add_argument("--wait-load", type=float, default=0.0,
                   help="first wait (up to 20 min) for a 1-minute load below this (0: don't)")
    args = p.parse_args()
    log = TrainConfig().log_every
    if args.loop_steps % log != 1 or args.loop_steps < 2 * log + 1:
        p.error(f"--loop-steps: expected 10k+1 with k >= 2, got {args.loop_steps}")
    if args.quick:
        args.loop_steps = 2 * log + 1
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.wait_load:
        wait_for_quiet(args.wait_load, 1200)

    rows = []
    with tempfile.TemporaryDirectory(prefix="alibench-bench-training-") as tmp:
        for label in args.models.split(","):
            paper = PAPER_MODELS[label]
            model = paper.model()
            if args.quick:
                model = dataclasses.replace(model, width=0.125)
            rows.append((paper, model, measure(paper, model, args.data_root, args.loop_steps,
                                               args.rounds, Path(tmp))))

    defaults = TrainConfig()
    print(f"training throughput, alternating adam, batch {BATCH}, loop with "
          f"{STABILIZERS[0]['name']}(std={STABILIZERS[0]['std']}) and MLflow (sqlite); default "
          f"cadence: log every {defaults.log_every}, eval + checkpoint every "
          f"{defaults.eval_every}")
    print(f"{machine_line()}; {args.rounds} round(s) of {args.loop_steps} loop steps, a bare "
          f"update after each{' (quick: width 0.125)' if args.quick else ''}")
    print(f"{'model':<7} {'bare img/s':>10} {'loop img/s':>10} {'overhead':>9} {'of which log':>12} "
          f"{'eval+ckpt':>9} {'total':>7}  {'eval+ckpt s':>11} {'start s':>8} {'panels s':>8}")
    missed = []
    for paper, _model, m in rows:
        total = m["overhead"] + m["amortised"]
        if total >= GOAL:
            missed.append(paper.label)
        print(f"{paper.label:<7} {BATCH / m['bare_s']:>10.1f} {BATCH / m['loop_s']:>10.1f} "
              f"{m['overhead']:>8.1%} {m['logging']:>11.2%} {m['amortised']:>8.2%} {total:>6.1%}  "
              f"{m['eval_checkpoint_s']:>11.2f} {m['startup_s']:>8.2f} {m['finish_s']:>8.2f}")
    print("overhead: median loop step (with 1/log_every of a logging step's extra) / median bare "
          "step - 1; eval+ckpt: one evaluation and one checkpoint / "
          f"{defaults.eval_every} steps, as a share of the bare step; start and panels are once "
          f"per run ({defaults.steps} steps by default)")
    print(f"goal (total < {GOAL:.0%}): " + ("met" if not missed else f"missed: {', '.join(missed)}"))


if __name__ == "__main__":
    main()
