"""Where a grid's runs execute: `local` (in process), `processes` (N workers), `ray` or `slurm`.

Each executor calls `benchmark.runs.execute` once per run and yields its `RunSummary`. A run's
progress lives in its checkpoints and the tracking store, so a worker that dies loses only its
own run's work since its last checkpoint; rerunning the grid resumes it.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from benchmark.errors import ConfigError

# torch and MLflow load only when a run executes, so `benchmark.run --help` (which lists the
# executors) starts in a fraction of a second.
if TYPE_CHECKING:
    from benchmark.run_config import RunConfig
    from benchmark.runs import RunSummary, Target
    from benchmark.slurm import SlurmOptions


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    """Workers x threads never exceeds the cores."""
    return max(1, available_cores() // workers)


def run_local(runs: list[RunConfig], target: Target, progress_factory: Callable | None = None,
              threads: int | None = None, **_: object) -> Iterator[RunSummary]:
    """One run after another, in this process (`threads`: torch's thread count, None: its own)."""
    from benchmark.runs import execute

    for cfg in runs:
        progress = progress_factory(cfg) if progress_factory else None
        try:
            yield execute(cfg, target, threads=threads, progress=progress)
        finally:
            if progress is not None:
                progress.close()


def _serve(conn, target: Target, threads: int) -> None:
    """A worker process: run each config the grid process sends, send back its summary."""
    from benchmark.runs import execute

    try:
        while True:
            try:
                cfg = conn.recv()
            except EOFError:  # the grid process is gone
                return
            if cfg is None:
                return
            conn.send(execute(cfg, target, threads=threads))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the grid process reports
        return  # it, and the run left RUNNING resumes on the next invocation


class _Worker:
    """One spawned worker process and the run it holds, talking over a pipe of its own (no lock
    shared with other workers, so a worker killed mid-message cannot stall the rest)."""

    def __init__(self, ctx, target: Target, threads: int):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, target, threads), daemon=True)
        self.proc.start()
        child.close()
        self.cfg: RunConfig | None = None

    def give(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.conn.send(cfg)

    def summary(self) -> RunSummary:
        """The held run's summary, or `interrupted` when the worker died before sending one."""
        cfg = self.cfg
        assert cfg is not None
        self.cfg = None
        if self.conn.poll():
            with contextlib.suppress(EOFError, OSError):
                return self.conn.recv()
        self.proc.join()
        from benchmark.runs import interrupted

        return interrupted(cfg, f"worker exited with code {self.proc.exitcode}")

    def stop(self) -> None:
        if self.proc.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()
        self.conn.close()


def run_processes(runs: list[RunConfig], target: Target, workers: int = 2,
                  threads: int | None = None, **_: object) -> Iterator[RunSummary]:
    """Up to `workers` runs at a time, each worker a spawned process that runs one run after
    another (so a grid of short runs pays the start-up of torch and MLflow once per worker).
    Each run uses `threads` torch threads; without them, the cores shared among the workers.

    A worker the OS kills takes only its current run with it: that run is reported interrupted,
    to resume on the next call, and a fresh worker takes over the rest of the queue.
    """
    if workers < 1:
        raise ConfigError(f"--workers: expected at least 1, got {workers}")
    pending = list(runs)
    count = min(workers, len(pending))
    threads = threads or (threads_per_worker(count) if count else 1)  # --threads wins
    ctx = mp.get_context("spawn")
    pool = [_Worker(ctx, target, threads) for _ in range(count)]
    try:
        for worker in pool:
            worker.give(pending.pop(0))
        while busy := [w for w in pool if w.cfg is not None]:
            ready = set(mp.connection.wait([h for w in busy for h in (w.conn, w.proc.sentinel)]))
            for worker in busy:
                if not {worker.conn, worker.proc.sentinel} & ready:
                    continue
                summary = worker.summary()
                if not worker.proc.is_alive():
                    worker.stop()
                    if pending:
                        pool[pool.index(worker)] = worker = _Worker(ctx, target, threads)
                if pending and worker.proc.is_alive():
                    worker.give(pending.pop(0))
                yield summary
    finally:
        for worker in pool:
            worker.stop()


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
        refs = {task.remote(cfg, target, cpus_per_run, os.getcwd()): cfg for cfg in runs}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                cfg = refs.pop(ref)
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as err:  # the worker or its node died
                    from benchmark.runs import interrupted

                    yield interrupted(cfg, str(err).splitlines()[0][:300])
    finally:
        if started_here:
            ray.shutdown()


RAY_CONNECT_TIMEOUT = 5.0  # seconds for the address check's TCP connect


def _host_port(address: str) -> tuple[str, int]:
    """`HOST:PORT`, `[IPv6]:PORT` or Ray client's `ray://HOST:PORT` -> (host, port)."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--ray-address: expected HOST:PORT (or auto), got {address!r}")
    return host.strip("[]"), int(port)


def check_ray_address(ray_address: str | None = None, **_: object) -> None:
    """Ask the cluster's address for a TCP connection before anything is created: `ray.init`
    alone retries an address nothing listens at for minutes, with the grid run already in the
    store. `auto` (and no address: a local cluster) is Ray's own to resolve."""
    if not ray_address or ray_address in ("auto", "local"):
        return
    host, port = _host_port(ray_address)
    try:
        with socket.create_connection((host, port), timeout=RAY_CONNECT_TIMEOUT):
            pass
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise ConfigError(f"--ray-address: nothing answers at {ray_address!r} ({reason}); "
                          f"start the cluster (`ray start --head`) or pass its HEAD:PORT") from None


def _ray_task(cfg: RunConfig, target: Target, threads: int, cwd: str) -> RunSummary:
    # A worker of a cluster started elsewhere has the raylet's working directory: where the
    # driver's folder exists too (the same machine, or the same shared mount), work there, so
    # relative paths (the default sqlite store, checkpoints, data) mean what they mean to the
    # driver and do not silently name a second store.
    from benchmark.runs import execute

    if os.path.isdir(cwd):
        os.chdir(cwd)
    return execute(cfg, target, threads=threads)


def run_slurm(runs: list[RunConfig], target: Target, **kwargs) -> Iterator[RunSummary]:
    """One Slurm job per run, through submitit (`benchmark/slurm.py`, loaded only here)."""
    from benchmark.slurm import run_slurm as submit

    return submit(runs, target, **kwargs)


EXECUTORS: dict[str, Callable[..., Iterator[RunSummary]]] = {
    "local": run_local,
    "processes": run_processes,
    "ray": run_ray,
    "slurm": run_slurm,
}

def check_devices_here(runs: Sequence[RunConfig] = (), **_: object) -> None:
    """Runs that execute on this machine: each asks for a device it has (`device: cuda` where
    torch finds none is one line now, not a grid of failed runs)."""
    from benchmark.device import check_devices

    check_devices(runs)


def check_slurm_devices(runs: Sequence[RunConfig] = (), slurm: SlurmOptions | None = None,
                        **_: object) -> None:
    """Slurm jobs run on other nodes, whose devices this machine cannot see: a run that asks for
    CUDA needs GPUs in its job (`--slurm-gpus`); submitit's local cluster runs them here."""
    if slurm is None:
        return
    if slurm.cluster == "local":
        check_devices_here(runs)
        return
    wants = next((cfg for cfg in runs if cfg.device == "cuda"), None)
    if wants is not None and slurm.gpus < 1:
        from benchmark.run_config import run_name

        raise ConfigError(f"--slurm-gpus: 0, but run {run_name(wants)} asks for device 'cuda'; "
                          f"choose from: --slurm-gpus 1 or more, or device auto or cpu")


# What an executor checks of its options before the grid creates anything (executors without
# an entry need nothing); called with the executor's keyword options and the grid's `runs`.
# Ray's nodes check their own devices when a run starts (`benchmark.device.resolve_device`).
EXECUTOR_CHECKS: dict[str, Callable[..., None]] = {
    "local": check_devices_here,
    "processes": check_devices_here,
    "ray": check_ray_address,
    "slurm": check_slurm_devices,
}


def check_executor(name: str, **options: object) -> None:
    """One line now for an executor option that cannot work, instead of a grid of failures."""
    check = EXECUTOR_CHECKS.get(name)
    if check is not None:
        check(**options)
