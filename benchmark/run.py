"""Run a grid: `python -m benchmark.run --grid grids/quickstart.yaml`.

Thin on purpose: arguments -> validated grid -> executor -> one summary line per run. The whole
grid is validated before the first run starts; rerunning the same command skips finished runs
and resumes interrupted ones from their checkpoints.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from benchmark.errors import AlibenchError, ConfigError, OneLineParser
from benchmark.plugins import load_plugins
from benchmark.preflight import check_data
from benchmark.tracking import DEFAULT_TRACKING_URI, MlflowStore, Outcome

# The config, progress and runs (which load torch) are imported where they are used, so `--help`
# and argument mistakes answer without loading torch (MLflow loads inside MlflowStore).
if TYPE_CHECKING:
    from benchmark.grid import Grid
    from benchmark.slurm import SlurmOptions

DEFAULT_CHECKPOINT_DIR = "runs/checkpoints"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from benchmark.executors import EXECUTORS

    parser = OneLineParser(prog="python -m benchmark.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", required=True, help="YAML grid file (see grids/)")
    parser.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI,
                        help=f"MLflow tracking URI (default: {DEFAULT_TRACKING_URI})")
    parser.add_argument("--data-root", help="folder holding the datasets (sets data.data_root)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value in every run, e.g. train.steps=50")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the runs with their keys and states, then exit")
    parser.add_argument("--executor", default="local", choices=sorted(EXECUTORS),
                        help="where runs execute (default: local)")
    parser.add_argument("--workers", type=int, default=2,
                        help="parallel runs for processes and ray (default: 2)")
    parser.add_argument("--threads", type=int,
                        help="torch threads per run, local and processes (default: local "
                             "torch's own, all cores; processes the cores shared among the "
                             "workers); 1 is faster on a machine other jobs keep busy")
    parser.add_argument("--ray-address", help="join this Ray cluster instead of a local one")
    slurm = parser.add_argument_group("slurm (--executor slurm: one job per run, a job array)")
    slurm.add_argument("--slurm-partition", help="partition of the jobs (default: Slurm's)")
    slurm.add_argument("--slurm-time", type=int, default=240, metavar="MINUTES",
                       help="time limit per job; a run that needs more is requeued and "
                            "resumes from its checkpoint (default: 240)")
    slurm.add_argument("--slurm-gpus", type=int, default=0, help="GPUs per job (default: 0)")
    slurm.add_argument("--slurm-cpus", type=int, default=2,
                       help="CPUs per task, also torch's threads per run (default: 2)")
    slurm.add_argument("--slurm-folder", default="runs/slurm",
                       help="submitit's job files and logs (default: runs/slurm)")
    slurm.add_argument("--slurm-cluster", default="slurm", choices=["slurm", "local"],
                       help="local runs the same jobs on this machine through submitit's "
                            "local executor, all at once (default: slurm)")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import this module first (it registers optimizers, stabilizers, "
                             "datasets or metrics); every worker imports it too; repeatable")
    parser.add_argument("--retry-failed", action="store_true",
                        help="run again the runs that failed or diverged")
    parser.add_argument("--checkpoint-dir", default=DEFAULT_CHECKPOINT_DIR,
                        help=f"where checkpoints go (default: {DEFAULT_CHECKPOINT_DIR})")
    return parser.parse_args(argv)


def store_states(grid: Grid, tracking_uri: str) -> list[Outcome]:
    """Each run's state in the store, without creating anything."""
    from benchmark.run_config import run_key

    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri[10:]).exists():
        return [Outcome.NEW] * len(grid.runs)
    store = MlflowStore(tracking_uri)
    store.check_reachable()
    experiment = store.experiment_id(grid.name, create=False)
    if experiment is None:
        return [Outcome.NEW] * len(grid.runs)
    stored = store.find_all(experiment)
    return [stored[key].state if key in stored else Outcome.NEW
            for key in map(run_key, grid.runs)]


def check_checkpoint_dir(path: str) -> None:
    """The checkpoint folder is one we can create folders in (each run keeps its checkpoints
    in `<dir>/<run key>/`), or can be created. Found now it is one line; found by the first
    checkpoint, every run of the grid would already be in the store, marked failed.

    Probed, not guessed from permission bits: a folder is made (and removed) in the folder or
    its nearest existing parent, so root, read-only mounts and /proc answer as they will."""
    folder = Path(path)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"--checkpoint-dir: cannot create {path!r}: {str(existing)!r} is a "
                          f"file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".alibench-probe-", dir=existing))
    except OSError as err:
        raise ConfigError(f"--checkpoint-dir: cannot create {path!r}: no folder can be made in "
                          f"{str(existing)!r} (mkdir: {err.strerror or err})") from None


def print_dry_run(grid: Grid, states: list[Outcome]) -> None:
    from benchmark.run_config import run_key, run_name

    print(f"grid {grid.name!r}: {len(grid.runs)} runs")
    print(f"{'#':>4}  {'run key':<12}  {'state':<11}  name")
    for i, (cfg, state) in enumerate(zip(grid.runs, states, strict=True), 1):
        print(f"{i:>4}  {run_key(cfg):<12}  {state:<11}  {run_name(cfg)}")


def execution_options(args: argparse.Namespace) -> tuple[dict, SlurmOptions | None]:
    """What `benchmark.run` and `benchmark.tune` read alike from their shared options, checked
    before anything is created: the `--set` overrides (with `--data-root`), the Slurm options,
    and the plug-ins imported."""
    from benchmark.grid import parse_set

    overrides = parse_set(args.set)
    if args.data_root:
        overrides["data.data_root"] = args.data_root
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads: expected at least 1, got {args.threads}")
    if args.workers < 1:
        raise ConfigError(f"--workers: expected at least 1, got {args.workers}")
    slurm = None
    if args.executor == "slurm":
        from benchmark.slurm import SlurmOptions

        slurm = SlurmOptions(args.slurm_partition, args.slurm_time, args.slurm_gpus,
                             args.slurm_cpus, args.slurm_folder, args.slurm_cluster)
        slurm.check()
    load_plugins(args.plugin)
    return overrides, slurm


def run_grid(args: argparse.Namespace) -> int:
    from benchmark.evaluation.declarations import summary_keys
    from benchmark.executors import EXECUTORS, check_executor
    from benchmark.grid import load_grid
    from benchmark.progress import GridProgress
    from benchmark.runs import Target

    overrides, slurm = execution_options(args)
    grid = load_grid(args.grid, overrides)
    if args.dry_run:  # lists a grid anywhere: data not on disk is not required, only checked
        check_data(grid.runs, require_present=False)
        print_dry_run(grid, store_states(grid, args.tracking_uri))
        return 0

    # Everything a grid needs that a user can get wrong, before the store is even opened.
    check_checkpoint_dir(args.checkpoint_dir)
    check_executor(args.executor, ray_address=args.ray_address, runs=grid.runs, slurm=slurm)
    check_data(grid.runs)
    store = MlflowStore(args.tracking_uri)
    store.check_reachable()
    experiment = store.experiment_id(grid.name)
    store.close_dead_grids(experiment)  # earlier invocations killed before they could end
    parent = store.start_grid(experiment, grid.name, grid.path)
    target = Target(args.tracking_uri, grid.name, parent, args.checkpoint_dir, args.retry_failed,
                    tuple(args.plugin), tags=tuple(grid.design.tags().items()))
    progress = GridProgress(len(grid.runs))
    executor = EXECUTORS[args.executor]
    ok, status = True, "FAILED"  # FAILED stays if the loop raises
    logged: set[str] = set()
    try:
        for summary in executor(grid.runs, target, workers=args.workers,
                                ray_address=args.ray_address, threads=args.threads,
                                progress_factory=progress.run_bar, slurm=slurm):
            progress.run_done(summary.line())
            ok = ok and summary.outcome not in (Outcome.FAILED, Outcome.INTERRUPTED)
            logged.update(summary.metrics)
        status = "FINISHED" if ok else "FAILED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        progress.close()
        store.end_grid(parent, status)
    store.save_comparison_view(experiment, summary_keys(logged))
    print(f"benchmark.run: compare the runs in the MLflow UI: {store.ui_link(experiment)}",
          file=sys.stderr)
    return 0 if ok else 1


def _terminated(signum: int, frame: object) -> NoReturn:
    """SIGTERM (`kill`, `pkill`, a scheduler) ends the grid as Ctrl-C does: workers stopped,
    the grid run KILLED, the training runs left to resume. Python's default for SIGTERM would
    end this process at once and leave the processes executor's workers running as orphans."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    return guarded(lambda: run_grid(parse_args(argv)))


def guarded(command: Callable[[], int]) -> int:
    """Run a CLI's command the way every long CLI of the suite ends: a user's mistake is one
    line and exit 2, Ctrl-C or SIGTERM exit 130 with how to resume, a closed pipe exit 141."""
    if threading.current_thread() is threading.main_thread():  # tests call main() in threads
        signal.signal(signal.SIGTERM, _terminated)
    try:
        return command()
    except AlibenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout piped into `head` that has closed: nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141


if __name__ == "__main__":
    sys.exit(main())
