"""One run's life in the store: skip it, resume it or start it, train it, record its outcome.

Every executor calls `execute` once per run, in whatever process or node the run lands on; all
it needs is picklable (a config and a few strings), and everything it learns it writes to the
tracking store, which is the single source of truth for what is finished.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from benchmark.errors import AlibenchError, first_line
from benchmark.evaluation.declarations import summary_keys
from benchmark.plugins import load_plugins
from benchmark.run_config import (
    RunConfig,
    config_key,
    config_name,
    describe_config,
    flat_params,
    resolved,
    run_key,
    run_name,
)
from benchmark.tracking import (
    TAG_CONFIG,
    TAG_CONFIG_KEY,
    TAG_DESCRIPTION,
    TAG_DIVERGED_STEP,
    TAG_ERROR,
    TAG_PRUNED_STEP,
    TAG_RUN_KEY,
    TAG_TORCH_THREADS,
    MlflowStore,
    Outcome,
)


class RunHooks(Protocol):
    """What a caller beyond the grid (a tuning search) adds to its runs: tags, and a callback
    after each evaluation that may stop the run (pruned). Picklable: it travels to workers."""

    def tags(self, cfg: RunConfig) -> dict[str, str]: ...

    def on_evaluation(self, cfg: RunConfig): ...  # a training.EvaluationCallback, or None


@dataclass
class Target:
    """Where runs report: the same for every run of one grid invocation."""

    tracking_uri: str
    experiment: str
    parent_id: str | None
    checkpoint_root: str
    retry_failed: bool = False
    plugins: tuple[str, ...] = ()  # modules every run imports first (`--plugin`)
    hooks: RunHooks | None = None  # benchmark.tune's tags and pruning; None for a grid
    # the grid's comparison design (reporting.design.Design.tags), on every run it starts or
    # resumes: the report reads the reference from the runs, with no grid file
    tags: tuple[tuple[str, str], ...] = ()


@dataclass
class RunSummary:
    key: str
    name: str
    outcome: str  # an Outcome (finished, diverged, ...), or skipped-<Outcome>
    step: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        """`benchmark.run: NAME [KEY] OUTCOME step=N metrics time=Ts`; a skipped run shows the
        metrics it ended with in the store, and neither step nor time (nothing ran now)."""
        shown = " ".join(f"{k}={self.metrics[k]:.4g}" for k in summary_keys(self.metrics))
        skipped = self.outcome.startswith("skipped")
        parts = [f"benchmark.run: {self.name} [{self.key}] {self.outcome}",
                 "" if skipped else f"step={self.step}", shown,
                 "" if skipped else f"time={self.seconds:.1f}s",
                 f"error={self.error}" if self.error else ""]
        return " ".join(p for p in parts if p)


def interrupted(cfg: RunConfig, error: str) -> RunSummary:
    """The summary of a run whose worker (process, Ray task, Slurm job) died before it could
    send one."""
    return RunSummary(run_key(cfg), run_name(cfg), Outcome.INTERRUPTED, error=error)


def set_aside_unknown_checkpoints(folder: Path, name: str) -> None:
    """Checkpoints of a run this experiment has no MLflow run for (another experiment with the
    same run key, another store, or a deleted one) are not a resume point: the new MLflow run
    would miss every metric logged before them. The run starts from step 0; the checkpoints are
    moved aside, not deleted, in case the tracking URI was the mistake."""
    if folder.is_dir() and any(folder.iterdir()):
        aside = folder.with_name(f"{folder.name}.unknown-{time.strftime('%Y%m%d-%H%M%S')}")
        folder.rename(aside)
        print(f"benchmark.run: {name}: the store has no run for the checkpoints in {folder}; "
              f"starting from step 0 (moved them to {aside})", file=sys.stderr, flush=True)


def display_tags(cfg: RunConfig) -> dict[str, str]:
    """What the MLflow UI shows without a click: the description (the config in one line), the
    config's name (the same for all its seeds: the "Group by" that averages seeds) and the key
    choices as columns of their own."""
    return {TAG_DESCRIPTION: describe_config(cfg), TAG_CONFIG: config_name(cfg),
            "dataset": cfg.data.dataset, "optimizer": cfg.optim.name,
            "scheme": cfg.scheme.name, "stabilizers": "+".join(s["name"] for s in cfg.stabilizers) or "none"}


def execute(cfg: RunConfig, target: Target, threads: int | None = None,
            progress=None) -> RunSummary:
    """Run `cfg` to an outcome recorded in the store; never raises for the run's own failure."""
    from benchmark.training import train

    load_plugins(target.plugins)  # a no-op where the grid process already imported them
    cfg = resolved(cfg)  # a grid's runs are; a RunConfig built in code may not be
    if threads:
        torch.set_num_threads(threads)
    key, name = run_key(cfg), run_name(cfg)
    store = MlflowStore(target.tracking_uri)
    experiment = store.experiment_id(target.experiment)
    stored = store.find(experiment, key)
    skip = {Outcome.FINISHED, Outcome.PRUNED} if target.retry_failed else {
        Outcome.FINISHED, Outcome.PRUNED, Outcome.FAILED, Outcome.DIVERGED}
    if stored is not None and stored.state in skip:
        return RunSummary(key, name, f"skipped-{stored.state}", metrics=stored.metrics)
    folder = Path(target.checkpoint_root) / key
    # cpu_time_s depends on it: two threads on a shared core double it (issue 25's first search)
    threads_tag = {TAG_TORCH_THREADS: str(torch.get_num_threads())}
    if stored is not None:
        run_id = stored.run_id
        store.reopen(run_id)
        store.tracker(run_id).set_tags({**dict(target.tags), **threads_tag})
    else:
        set_aside_unknown_checkpoints(folder, name)
        tags = {TAG_RUN_KEY: key, TAG_CONFIG_KEY: config_key(cfg), **display_tags(cfg),
                **dict(target.tags), **threads_tag,
                **(target.hooks.tags(cfg) if target.hooks else {})}
        run_id = store.start_run(experiment, name, flat_params(cfg), tags, target.parent_id)

    started = time.perf_counter()
    try:
        on_evaluation = target.hooks.on_evaluation(cfg) if target.hooks else None
        result = train(cfg, store.tracker(run_id), folder, progress, on_evaluation)
    except Exception as err:  # the grid goes on; the run records why it stopped
        message = f"{type(err).__name__}: {first_line(err)}"[:500]
        if not isinstance(err, AlibenchError):
            traceback.print_exc()
        store.finish(run_id, Outcome.FAILED, {TAG_ERROR: message})
        return RunSummary(key, name, Outcome.FAILED, error=message,
                          seconds=time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if result.outcome == Outcome.DIVERGED:
        store.finish(run_id, Outcome.DIVERGED, {TAG_DIVERGED_STEP: str(result.step)})
        return RunSummary(key, name, Outcome.DIVERGED, result.step, seconds=seconds)
    if result.outcome == Outcome.PRUNED:
        store.finish(run_id, Outcome.PRUNED, {TAG_PRUNED_STEP: str(result.step)})
        return RunSummary(key, name, Outcome.PRUNED, result.step, result.metrics, seconds=seconds)
    store.finish(run_id, Outcome.FINISHED)
    return RunSummary(key, name, Outcome.FINISHED, result.step, result.metrics, seconds=seconds)
