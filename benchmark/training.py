"""One run, top to bottom: build, loop, evaluate, checkpoint and resume.

`train(cfg, tracker, checkpoint_dir)` runs Algorithm 1 of the ALI paper (or, under
`train.objective: autoencoder`, its control without the discriminator) under the configured
update scheme, optimizer and stabilizers. A run is a pure function of its config and seed: every
random stream it consumes is seeded here and saved in its checkpoints, and evaluation runs on
streams of its own, so a resumed run ends with exactly the numbers of an uninterrupted one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from benchmark import checkpoint
from benchmark.averages import Averages
from benchmark.batch_norm import ScoringProtocol, StatisticsBatches
from benchmark.data import BatchSampler, load_dataset
from benchmark.data.provenance import describe_datasets
from benchmark.data.samples import Samples
from benchmark.device import configure, resolve_device
from benchmark.evaluation.context import fork_rng
from benchmark.evaluation.evaluator import Evaluator
from benchmark.models import ALI, build_ali, build_encoder
from benchmark.objectives import OBJECTIVES
from benchmark.optimizers import build_optimizer
from benchmark.precision import PRECISIONS
from benchmark.run_config import RunConfig, run_key
from benchmark.schemes import SCHEMES, Game, Players, total_steps
from benchmark.stabilizers import parse_stabilizers
from benchmark.tracking import Outcome, Tracker
from optim import lookahead_pair

COLLAPSE_ACCURACY = 0.95  # D's accuracy on each pair kind, averaged over the window: it won

# Called after each evaluation with (step, gradient evaluations so far, the metrics); True stops
# the run there as `pruned` (a tuning search's pruner: benchmark/tuning/hooks.py).
EvaluationCallback = Callable[[int, int, dict[str, float]], bool]


@dataclass
class RunResult:
    outcome: Outcome  # FINISHED, DIVERGED or PRUNED
    step: int
    metrics: dict[str, float] = field(default_factory=dict)
    collapsed: bool = False


__all__ = ["RunResult", "resolve_device", "seed_everything", "train"]


def seed_everything(seed: int, device: torch.device, cudnn_benchmark: bool = False) -> None:
    """Seed every global stream (torch's seeds the CUDA generators too) and set the kernels'
    determinism (`benchmark.device.configure`): bit-for-bit resumes need deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    configure(device, cudnn_benchmark)


def on_device(samples: Samples, device: torch.device) -> Samples:
    """The training split on the run's device, copied once: the sampler then cuts each batch
    there, not on the CPU followed by a copy per step. The evaluation keeps its CPU copy."""
    if samples.x.device == device:
        return samples
    return Samples(samples.x.to(device), samples.y, samples.kind)


def compile_networks(ali: ALI) -> None:
    """`torch.compile` each network in place (`nn.Module.compile`: the parameters and the
    state dict keep their names, so checkpoints are those of an eager run).

    Buffer donation is turned off (process-wide): with it, a compiled backward refuses
    `retain_graph=True`, which the simultaneous and extragradient schemes need (both players'
    gradients from one forward pass); it only saves memory."""
    import torch._functorch.config

    if hasattr(torch._functorch.config, "donated_buffer"):  # torch 2.5 and later
        torch._functorch.config.donated_buffer = False
    for network in (ali.encoder, ali.decoder, ali.discriminator):
        network.compile()


def _finite(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


class CollapseMonitor:
    """Tags a run whose discriminator wins: the collapse rule every run is judged by.

    Collapsed when, over the last `patience` logged steps, D's accuracy averaged over the
    window is at least `COLLAPSE_ACCURACY` (95%) on each pair kind. Each logged accuracy is
    one minibatch's, so the window's mean is what is judged, not each value: the rule before it
    (every logged value above 99% on both kinds, `patience` times in a row) asked, at batch 100,
    for no misclassified pair of 200 at every logged step, and one pair in 200 reset it. That is
    how a 2.048-step SGD run of results/sem_vs_sgd_lr whose discriminator had won (loss_d 0.11)
    went unflagged beside one at 0.07 that was. Both kinds must be won: a discriminator right on
    every encoder pair but fooled on decoder pairs has not won the game. The run trains on;
    collapse is an outcome to count."""

    def __init__(self, patience: int, window: list[list[float]] | None = None,
                 collapsed: bool = False):
        self.patience, self.collapsed = patience, collapsed
        self.window = [list(pair) for pair in window or []][-patience:]

    @classmethod
    def from_state(cls, patience: int, state: dict) -> CollapseMonitor:
        """From a checkpoint; one of the rule before the window (a `streak`) restarts its
        window empty, keeping whether it had already collapsed."""
        return cls(patience, state.get("window"), bool(state.get("collapsed", False)))

    def observe(self, accuracy_enc: float, accuracy_dec: float) -> bool:
        """Whether the run collapsed at this observation (true once)."""
        self.window = [*self.window, [accuracy_enc, accuracy_dec]][-self.patience:]
        if self.collapsed or len(self.window) < self.patience:
            return False
        means = [sum(kind) / len(self.window) for kind in zip(*self.window, strict=True)]
        if min(means) >= COLLAPSE_ACCURACY:
            self.collapsed = True
            return True
        return False

    def state_dict(self) -> dict[str, object]:
        return {"window": [list(pair) for pair in self.window], "collapsed": self.collapsed}


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
    seed_everything(cfg.seed, device, cfg.train.cudnn_benchmark)
    precision = PRECISIONS.get(cfg.train.precision)

    # --- build -----------------------------------------------------------------------------
    data = load_dataset(cfg.data, cfg.seed)
    tracker.log_datasets(describe_datasets(cfg.data, data))
    shape = data.image_shape or tuple(data.train.x.shape[1:])
    ali = build_ali(cfg.model, shape, cfg.train.memory_format).to(device)
    stabilizers = parse_stabilizers(cfg.stabilizers)
    for stabilizer in stabilizers:
        ali.discriminator = stabilizer.wrap_discriminator(ali.discriminator)
    o = cfg.optim
    opt_d = build_optimizer(o.name, ali.discriminator_parameters(), o.lr_d, o.options)
    opt_g = build_optimizer(o.name, ali.generator_parameters(), o.lr_g, o.options)
    opt_d, opt_g = lookahead_pair(opt_d, opt_g, o.lookahead_k, o.lookahead_alpha)
    train_samples = on_device(data.train, device)
    statistics = StatisticsBatches(train_samples.x, cfg.data.batch_size, cfg.eval.bn_batches,
                                   ali.z_dim, cfg.seed, device)
    averages = Averages(ali, o.averaging, o.ema_decay, statistics)
    if cfg.train.compile:  # in place: the scoring copies (deep copies) run compiled too
        compile_networks(ali)
    sampler = BatchSampler(train_samples, cfg.data.batch_size, cfg.seed)
    game = Game(ali, stabilizers, lambda: sampler.next()[0], device,
                OBJECTIVES.get(cfg.train.objective), precision)
    scheme = SCHEMES[cfg.scheme.name](cfg.scheme.options)
    players = Players(game, opt_d, opt_g)
    protocol = ScoringProtocol(cfg.eval.bn_stats, statistics)
    layout = cfg.train.memory_format
    evaluator = Evaluator(cfg.eval, data, device,
                          lambda: build_encoder(cfg.model, shape, layout).to(device), cfg.seed,
                          dataset_name=cfg.data.dataset, protocol=protocol)
    key = run_key(cfg)

    def scored(step: int) -> ALI:
        """The live networks as scored: with their own running statistics or recomputed ones."""
        return protocol.ali(ali, step)

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
        checkpoint.set_rng_state(saved["rng"], device)
        start = saved["step"]
        game.evaluations = saved.get("grad_evals", 0)
        clock = Clock(saved["cpu_time_s"], saved["wall_time_s"])
        collapse = CollapseMonitor.from_state(cfg.train.collapse_patience, saved["collapse"])
    else:
        tracker.log_metrics(evaluator.baselines(), step=0)
        with fork_rng(device):  # scored on streams of its own: the trajectory is untouched
            tracker.log_metrics(evaluator.untrained(scored(0)), step=0)

    def save_checkpoint(step: int) -> None:
        times = clock.read()
        checkpoint.save(checkpoint_dir, step, {
            "run_key": key, "ali": ali.state_dict(), "opt_d": opt_d.state_dict(),
            "opt_g": opt_g.state_dict(), "sampler": sampler.state_dict(),
            "averages": averages.state_dict(),
            "rng": checkpoint.rng_state(device), "collapse": collapse.state_dict(),
            "grad_evals": game.evaluations, **times})

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
        with precision.update():
            losses = scheme.step(players)
        averages.update()
        last = step == steps
        if not losses.finite():
            return RunResult(Outcome.DIVERGED, step)

        if step % train_cfg.log_every == 0 or last:
            if not _finite(ali):
                return RunResult(Outcome.DIVERGED, step)
            stats = losses.stats()
            if game.discriminator_plays and collapse.observe(stats["d_accuracy_enc"],
                                                             stats["d_accuracy_dec"]):
                tracker.set_tags({"collapsed": "true", "collapsed_step": str(step)})
            tracker.log_metrics({**stats, **clock.read(), "grad_evals": game.evaluations}, step)
        if step % train_cfg.eval_every == 0 or last:
            metrics = score(step)
            tracker.log_metrics(metrics, step)
            if on_evaluation is not None and on_evaluation(step, game.evaluations, metrics):
                return RunResult(Outcome.PRUNED, step, metrics)
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
    return RunResult(Outcome.FINISHED, steps, metrics, collapse.collapsed)
