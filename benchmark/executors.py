"""Where a grid's runs execute: `local` (in process), `processes` (N workers) or `ray`.

Each executor calls `benchmark.runs.execute` once per run and yields its `RunSummary`. A run's
progress lives in its checkpoints and the tracking store, so a worker that dies loses only its
own run's work since its last checkpoint; rerunning the grid resumes it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator

from benchmark.config import RunConfig, run_key, run_name
from benchmark.errors import ConfigError
from benchmark.runs import RunSummary, Target, execute


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    """Workers x threads never exceeds the cores."""
    return max(1, available_cores() // workers)


def run_local(runs: list[RunConfig], target: Target, progress_factory: Callable | None = None,
              **_: object) -> Iterator[RunSummary]:
    """One run after another, in this process."""
    for cfg in runs:
        progress = progress_factory(cfg) if progress_factory else None
        try:
            yield execute(cfg, target, progress=progress)
        finally:
            if progress is not None:
                progress.close()


def _worker(cfg: RunConfig, target: Target, threads: int, results) -> None:
    summary = execute(cfg, target, threads=threads)
    results.put(summary)


def run_processes(runs: list[RunConfig], target: Target, workers: int = 2,
                  **_: object) -> Iterator[RunSummary]:
    """Up to `workers` runs at a time, each in its own spawned process.

    A process per run (not a pool) means a worker killed by the OS takes only its run with it:
    the others go on, and the dead run is reported as interrupted, to resume on the next call.
    """
    if workers < 1:
        raise ConfigError(f"--workers: expected at least 1, got {workers}")
    threads = threads_per_worker(workers)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    pending = list(runs)
    active: dict[int, tuple[mp.Process, RunConfig]] = {}
    while pending or active:
        while pending and len(active) < workers:
            cfg = pending.pop(0)
            proc = ctx.Process(target=_worker, args=(cfg, target, threads, results), daemon=False)
            proc.start()
            active[proc.sentinel] = (proc, cfg)
        ready = mp.connection.wait(list(active))
        for sentinel in ready:
            proc, cfg = active.pop(sentinel)
            proc.join()
            if proc.exitcode != 0:
                yield RunSummary(run_key(cfg), run_name(cfg), "interrupted",
                                 error=f"worker exited with code {proc.exitcode}")
        while not results.empty():
            yield results.get()
    while not results.empty():
        yield results.get()


def run_ray(runs: list[RunConfig], target: Target, workers: int = 0,
            ray_address: str | None = None, cpus_per_run: int = 1,
            **_: object) -> Iterator[RunSummary]:
    """One Ray task per run with its CPU count, on a cluster (`ray_address`) or a local one.

    The runs write to `target.tracking_uri` from whichever node they land on: beyond one
    machine that must be a tracking server (`mlflow server`) or a store every node can reach.
    """
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        if ray_address:
            ray.init(address=ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers or available_cores(), include_dashboard=False,
                     log_to_driver=False)
    task = ray.remote(num_cpus=cpus_per_run, max_retries=0)(_ray_task)
    try:
        refs = {task.remote(cfg, target, cpus_per_run): cfg for cfg in runs}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                cfg = refs.pop(ref)
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as err:  # the worker or its node died
                    yield RunSummary(run_key(cfg), run_name(cfg), "interrupted",
                                     error=str(err).splitlines()[0][:300])
    finally:
        if started_here:
            ray.shutdown()


def _ray_task(cfg: RunConfig, target: Target, threads: int) -> RunSummary:
    return execute(cfg, target, threads=threads)


EXECUTORS: dict[str, Callable[..., Iterator[RunSummary]]] = {
    "local": run_local,
    "processes": run_processes,
    "ray": run_ray,
}
