"""One run, top to bottom: build, loop, evaluate, checkpoint and resume.

`train(cfg, tracker, checkpoint_dir)` runs Algorithm 1 of the ALI paper under the configured
update scheme, optimizer and stabilizers. A run is a pure function of its config and seed: every
random stream it consumes is seeded here and saved in its checkpoints, and evaluation runs on
streams of its own, so a resumed run ends with exactly the numbers of an uninterrupted one.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from benchmark import checkpoint
from benchmark.averages import Averages
from benchmark.batch_norm import StatisticsBatches
from benchmark.data import BatchSampler, load_dataset
from benchmark.data.provenance import describe_datasets
from benchmark.evaluation import Evaluator
from benchmark.models import ALI, build_ali, build_encoder
from benchmark.optimizers import build_optimizer
from benchmark.run_config import RunConfig, run_key
from benchmark.schemes import SCHEMES, Game, Players, total_steps
from benchmark.stabilizers import parse_stabilizers
from benchmark.tracking import Tracker
from optim import lookahead_pair

COLLAPSE_ACCURACY = 0.99  # each pair kind classified right this often: the discriminator won

# Called after each evaluation with (step, gradient evaluations so far, the metrics); True stops
# the run there as `pruned` (a tuning search's pruner: benchmark/tuning/hooks.py).
EvaluationCallback = Callable[[int, int, dict[str, float]], bool]


@dataclass
class RunResult:
    outcome: str  # finished, diverged or pruned
    step: int
    metrics: dict[str, float] = field(default_factory=dict)
    collapsed: bool = False


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int, device: torch.device) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # Bit-for-bit resumes need deterministic kernels; CUDA lacks some, so only warn there.
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")


def _finite(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


class CollapseMonitor:
    """Tags a run whose discriminator wins completely: accuracy above 99% on each pair kind
    at `patience` logged steps in a row. The run trains on; collapse is an outcome to count."""

    def __init__(self, patience: int, streak: int = 0, collapsed: bool = False):
        self.patience, self.streak, self.collapsed = patience, streak, collapsed

    def observe(self, accuracy_enc: float, accuracy_dec: float) -> bool:
        """Whether the run collapsed at this observation (true once)."""
        won = min(accuracy_enc, accuracy_dec) > COLLAPSE_ACCURACY
        self.streak = self.streak + 1 if won else 0
        if self.streak >= self.patience and not self.collapsed:
            self.collapsed = True
            return True
        return False

    def state_dict(self) -> dict[str, int | bool]:
        return {"streak": self.streak, "collapsed": self.collapsed}


class Clock:
    """CPU (process) time and wall time of the run, carried across resumes."""

    def __init__(self, cpu_offset: float = 0.0, wall_offset: float = 0.0):
        self.cpu0 = time.process_time() - cpu_offset
        self.wall0 = time.perf_counter() - wall_offset

    def read(self) -> dict[str, float]:
        return {"cpu_time_s": time.process_time() - self.cpu0,
                "wall_time_s": time.perf_counter() - self.wall0}


def train(cfg: RunConfig, tracker: Tracker, checkpoint_dir: Path,
          progress=None, on_evaluation: EvaluationCallback | None = None) -> RunResult:
    """Train one run to its end (or its divergence), resuming from `checkpoint_dir` if it can.
    `on_evaluation` may stop it after an evaluation (pruned); a resumed run calls it again for
    the evaluations it redoes, so the callback must answer the same for a step it has seen."""
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed, device)

    # --- build -----------------------------------------------------------------------------
    data = load_dataset(cfg.data, cfg.seed)
    tracker.log_datasets(describe_datasets(cfg.data, data))
    shape = data.image_shape or tuple(data.train.x.shape[1:])
    ali = build_ali(cfg.model, shape).to(device)
    stabilizers = parse_stabilizers(cfg.stabilizers)
    for stabilizer in stabilizers:
        ali.discriminator = stabilizer.wrap_discriminator(ali.discriminator)
    o = cfg.optim
    opt_d = build_optimizer(o.name, ali.discriminator_parameters(), o.lr_d, o.options)
    opt_g = build_optimizer(o.name, ali.generator_parameters(), o.lr_g, o.options)
    opt_d, opt_g = lookahead_pair(opt_d, opt_g, o.lookahead_k, o.lookahead_alpha)
    statistics = StatisticsBatches(data.train.x, cfg.data.batch_size, cfg.eval.bn_batches,
                                   ali.z_dim, cfg.seed, device)
    averages = Averages(ali, o.averaging, o.ema_decay, statistics)
    sampler = BatchSampler(data.train, cfg.data.batch_size, cfg.seed)
    game = Game(ali, stabilizers, lambda: sampler.next()[0], device)
    scheme = SCHEMES[cfg.scheme.name](cfg.scheme.d_steps, cfg.scheme.resample)
    players = Players(game, opt_d, opt_g)
    evaluator = Evaluator(cfg.eval, data, device,
                          lambda: build_encoder(cfg.model, shape).to(device), cfg.seed,
                          dataset_name=cfg.data.dataset)
    key = run_key(cfg)

    # --- resume ------------------------------------------------------------------------------
    start, clock = 0, Clock()
    collapse = CollapseMonitor(cfg.train.collapse_patience)
    saved = checkpoint.load_latest(checkpoint_dir)
    if saved is not None:
        if saved["run_key"] != key:
            raise RuntimeError(f"checkpoint in {checkpoint_dir} belongs to run {saved['run_key']}, "
                               f"not {key}")
        ali.load_state_dict(saved["ali"])
        opt_d.load_state_dict(saved["opt_d"])
        opt_g.load_state_dict(saved["opt_g"])
        averages.load_state_dict(saved["averages"])
        sampler.load_state_dict(saved["sampler"])
        checkpoint.set_rng_state(saved["rng"])
        start = saved["step"]
        game.evaluations = saved.get("grad_evals", 0)
        clock = Clock(saved["cpu_time_s"], saved["wall_time_s"])
        collapse = CollapseMonitor(cfg.train.collapse_patience, **saved["collapse"])
    else:
        tracker.log_metrics(evaluator.baselines(), step=0)

    def save_checkpoint(step: int) -> None:
        times = clock.read()
        checkpoint.save(checkpoint_dir, step, {
            "run_key": key, "ali": ali.state_dict(), "opt_d": opt_d.state_dict(),
            "opt_g": opt_g.state_dict(), "sampler": sampler.state_dict(),
            "averages": averages.state_dict(),
            "rng": checkpoint.rng_state(), "collapse": collapse.state_dict(),
            "grad_evals": game.evaluations, **times})

    def scored(step: int) -> ALI:
        """The live networks as scored: with their own running statistics or recomputed ones."""
        return ali if cfg.eval.bn_stats == "running" else statistics.scoring_copy(ali, step)

    def score(step: int) -> dict[str, float]:
        """The live networks' metrics and each average's, prefixed `avg_<kind>.`."""
        metrics = evaluator.evaluate(scored(step))
        for kind, averaged in averages.models(step).items():
            metrics.update({f"avg_{kind}.{k}": v for k, v in evaluator.evaluate(averaged).items()})
        return metrics

    # --- loop --------------------------------------------------------------------------------
    train_cfg, metrics, steps = cfg.train, {}, total_steps(cfg)
    ali.train()
    for step in range(start + 1, steps + 1):
        game.step = step
        losses = scheme.step(players)
        averages.update()
        last = step == steps
        if not (math.isfinite(losses.loss_d.item()) and math.isfinite(losses.loss_g.item())):
            return RunResult("diverged", step)

        if step % train_cfg.log_every == 0 or last:
            if not _finite(ali):
                return RunResult("diverged", step)
            stats = losses.stats()
            if collapse.observe(stats["d_accuracy_enc"], stats["d_accuracy_dec"]):
                tracker.set_tags({"collapsed": "true", "collapsed_step": str(step)})
            tracker.log_metrics({**stats, **clock.read(), "grad_evals": game.evaluations}, step)
        if step % train_cfg.eval_every == 0 or last:
            metrics = score(step)
            tracker.log_metrics(metrics, step)
            if on_evaluation is not None and on_evaluation(step, game.evaluations, metrics):
                return RunResult("pruned", step, metrics)
        if step in cfg.eval.panel_steps:
            for name, image in evaluator.panels(scored(step)).items():
                tracker.log_image(image, f"panels/step_{step:07d}/{name}.png")
        if step % train_cfg.checkpoint_every == 0 or last:
            save_checkpoint(step)
        if progress is not None:
            progress(step)

    if not metrics:  # resumed from the final checkpoint: the metrics are already logged
        metrics = score(steps)
    for name, image in evaluator.panels(scored(steps)).items():
        tracker.log_image(image, f"panels/{name}.png")
    return RunResult("finished", steps, metrics, collapse.collapsed)
