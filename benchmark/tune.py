"""Tune every config of a grid with the same search budget:
`python -m benchmark.tune --grid grids/tune/smoke.yaml`.

Each config gets `search.trials` trials of `search.budget` each, proposed by Optuna's TPE and cut
short by successive halving; every trial's run is an ordinary run of the suite (MLflow run, run
key, checkpoints) on the chosen executor. Killed at any moment, the same command goes on where it
stopped: finished trials are not repeated, interrupted ones resume from their checkpoints.
Outputs (best settings, best-so-far figure, confirmation grid) go to --out. docs/tuning.md.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from benchmark.errors import ConfigError
from benchmark.run import (
    DEFAULT_CHECKPOINT_DIR,
    check_checkpoint_dir,
    execution_options,
    guarded,
    parse_args,
)
from benchmark.tracking import DEFAULT_TRACKING_URI, Outcome

DEFAULT_STORAGE = "sqlite:///runs/optuna.db"
DEFAULT_OUT = "reports/tune"


def parse_tune_args(argv: list[str] | None) -> argparse.Namespace:
    """benchmark.run's options (executors, store, data, --set) plus the study storage and the
    output folder."""
    args = list(argv if argv is not None else sys.argv[1:])
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--storage", default=DEFAULT_STORAGE)
    extra.add_argument("--out")
    if "-h" in args or "--help" in args:
        print(__doc__)
        print(f"Options of benchmark.run apply (--executor, --workers, --threads, --data-root, "
              f"--set, --tracking-uri [{DEFAULT_TRACKING_URI}], --checkpoint-dir "
              f"[{DEFAULT_CHECKPOINT_DIR}], --ray-address, --slurm-*, --plugin), and:\n"
              f"  --storage URL   Optuna's RDB storage (default: {DEFAULT_STORAGE}; on a "
              f"cluster a database server every node reaches, e.g. postgresql://HOST/tune)\n"
              f"  --out FOLDER    outputs (default: {DEFAULT_OUT}/<grid name>)")
        sys.exit(0)
    known, rest = extra.parse_known_args(args)
    parsed = parse_args(rest)
    if parsed.retry_failed:
        raise ConfigError("--retry-failed: a failed trial is an outcome of the search; "
                          "not available in benchmark.tune")
    parsed.storage, parsed.out = known.storage, known.out
    return parsed


def trial_summary(outcomes: list, objective: str) -> tuple[Outcome, float | None]:
    """A trial's outcome from its runs' summaries (one per tuning seed run so far)."""
    kinds = [Outcome(s.outcome.removeprefix("skipped-")) for s in outcomes]
    if Outcome.PRUNED in kinds:
        return Outcome.PRUNED, None
    if any(k in (Outcome.FAILED, Outcome.DIVERGED) for k in kinds):
        return next(k for k in kinds if k in (Outcome.FAILED, Outcome.DIVERGED)), None
    values = [s.metrics.get(objective) for s in outcomes]
    if any(v is None or not math.isfinite(v) for v in values):
        return Outcome.FAILED, None
    return Outcome.FINISHED, sum(values) / len(values)


def tune(args: argparse.Namespace) -> int:
    from benchmark.evaluation.declarations import summary_keys
    from benchmark.executors import EXECUTORS, check_executor
    from benchmark.preflight import check_data
    from benchmark.run_config import run_key
    from benchmark.runs import Target
    from benchmark.tracking import MlflowStore
    from benchmark.tuning import engine
    from benchmark.tuning.hooks import TrialHooks, TrialRef
    from benchmark.tuning.outputs import write_outputs
    from benchmark.tuning.search import load_tune_grid, with_values

    overrides, slurm = execution_options(args)
    grid = load_tune_grid(args.grid, overrides)
    search = grid.search
    sample = [with_values(c.cfg, {"seed": s}) for c in grid.configs for s in search.seeds]
    if args.dry_run:
        check_data(sample, require_present=False)
        _print_plan(grid)
        return 0
    check_checkpoint_dir(args.checkpoint_dir)
    check_executor(args.executor, ray_address=args.ray_address, runs=sample, slurm=slurm)
    check_data(sample)
    if args.storage.startswith("sqlite:///"):
        Path(args.storage[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    studies = {c.key: engine.open_study(args.storage, grid.name, c, search) for c in grid.configs}
    store = MlflowStore(args.tracking_uri)
    store.check_reachable()
    experiment = store.experiment_id(grid.name)
    store.close_dead_grids(experiment)
    parent = store.start_grid(experiment, grid.name, grid.path)
    executor = EXECUTORS[args.executor]
    status, ok = "FAILED", True
    logged: set[str] = set()
    try:
        batches = -(-search.trials // search.parallel)
        for batch in range(batches):
            pending = [p for c in grid.configs
                       for p in engine.batch_trials(studies[c.key], search, c, batch)]
            outcomes: dict[tuple[str, int], list] = {(p.config.key, p.number): [] for p in pending}
            for index, seed in enumerate(search.seeds):
                hooks = TrialHooks(args.storage, search.resource, search.objective,
                                   search.parallel, search.pruner)
                runs = []
                for p in pending:
                    done = outcomes[(p.config.key, p.number)]
                    if done and trial_summary(done, search.objective)[0] != Outcome.FINISHED:
                        continue  # pruned or failed on an earlier seed: the trial is over
                    cfg = with_values(p.config.cfg, {**p.params, "seed": seed})
                    hooks.trials[run_key(cfg)] = TrialRef(
                        engine.study_name(grid.name, p.config), p.number, p.config.label,
                        index * search.budget)
                    runs.append((cfg, done))
                target = Target(args.tracking_uri, grid.name, parent, args.checkpoint_dir,
                                plugins=tuple(args.plugin), hooks=hooks)
                by_key: dict[str, list] = {}  # two trials that drew the same values: one run
                for cfg, done in runs:
                    by_key.setdefault(run_key(cfg), []).append(done)
                unique = list({run_key(cfg): cfg for cfg, _ in runs}.values())
                for summary in executor(unique, target, workers=args.workers,
                                        ray_address=args.ray_address, threads=args.threads,
                                        progress_factory=None, slurm=slurm):
                    ref = hooks.trials[summary.key]
                    print(f"{summary.line()} tune={ref.label}#{ref.number}", flush=True)
                    logged.update(summary.metrics)
                    if summary.outcome == Outcome.INTERRUPTED:
                        ok = False
                    for done in by_key[summary.key]:
                        if summary.outcome != Outcome.INTERRUPTED:
                            done.append(summary)
            if not ok:  # a worker died: its trial resumes on the next invocation
                break
            for p in pending:
                outcome, value = trial_summary(outcomes[(p.config.key, p.number)],
                                               search.objective)
                engine.tell(studies[p.config.key], p.number, outcome, value)
        status = "FINISHED" if ok else "FAILED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        store.end_grid(parent, status)
    store.save_comparison_view(experiment, summary_keys(logged))
    if not ok:
        print("benchmark.tune: a trial was interrupted; run the same command again to resume",
              file=sys.stderr)
        return 1
    out = Path(args.out or Path(DEFAULT_OUT) / grid.name)
    for path in write_outputs(out, grid, studies):
        print(f"benchmark.tune: wrote {path}", file=sys.stderr)
    for config in grid.configs:
        trials = studies[config.key].get_trials(deepcopy=False)
        states = [t.state.name.lower() for t in trials]
        print(f"benchmark.tune: {config.label}: {len(trials)} trials ("
              + ", ".join(f"{states.count(s)} {s}" for s in ("complete", "pruned", "fail"))
              + ")", file=sys.stderr)
    return 0


def _print_plan(grid) -> None:
    s = grid.search
    rungs = f" at {s.resource} {list(s.pruner.rungs)}" if s.pruner.rungs else ""
    print(f"tune grid {grid.name!r}: {len(grid.configs)} configs x {s.trials} trials, "
          f"{s.budget_key}={s.budget} on seeds {s.seeds}; objective {s.objective} "
          f"({'max' if s.higher_is_better else 'min'}imize); pruner {s.pruner.name}{rungs}; "
          f"batches of {s.parallel}; confirmation seeds {s.confirm_seeds}")
    for config in grid.configs:
        print(f"  {config.key}  {config.label}")
    for param in s.params:
        print(f"  search {param.key}: {param.kind} {list(param.args)}")


def main(argv: list[str] | None = None) -> int:
    return guarded(lambda: tune(parse_tune_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
