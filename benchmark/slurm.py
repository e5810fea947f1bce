"""`--executor slurm`: one Slurm job per run, a grid as one job array, through submitit.

A job runs `benchmark.runs.execute` like every other executor, so it reports to the tracking
store and checkpoints where the grid says (beyond one machine: a tracking server and a shared
checkpoint folder, as with Ray). Preempted or timed-out jobs get Slurm's signal; submitit then
calls `SlurmRun.checkpoint`, which requeues the same call, and the requeued job resumes the run
from its last checkpoint into the same MLflow run. `cluster="local"` runs the same jobs through
submitit's local executor (no Slurm needed: what the tests use).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmark.errors import ConfigError

if TYPE_CHECKING:
    from benchmark.run_config import RunConfig
    from benchmark.runs import RunSummary, Target

CLUSTERS = ("slurm", "local")


@dataclass
class SlurmOptions:
    """What each job asks Slurm for (the `--slurm-*` flags)."""

    partition: str | None = None
    time_min: int = 240  # the job's time limit; a run that needs more is requeued and resumes
    gpus: int = 0  # GPUs per job
    cpus_per_task: int = 2  # also torch's thread count in the job
    folder: str = "runs/slurm"  # submitit's job files and logs
    cluster: str = "slurm"  # or local: submitit's local executor, the same code path here

    def check(self) -> None:
        if self.cluster not in CLUSTERS:
            raise ConfigError(f"--slurm-cluster: unknown value {self.cluster!r}; choose from: "
                              f"{', '.join(CLUSTERS)}")
        for flag, value, least in (("--slurm-time", self.time_min, 1),
                                   ("--slurm-gpus", self.gpus, 0),
                                   ("--slurm-cpus", self.cpus_per_task, 1)):
            if value < least:
                raise ConfigError(f"{flag}: expected at least {least}, got {value}")
        if self.cluster == "slurm" and shutil.which("sbatch") is None:
            raise ConfigError("--executor slurm: sbatch not found; run the grid from a Slurm "
                              "login node, or add --slurm-cluster local to run the jobs on "
                              "this machine through submitit's local executor")


class SlurmRun:
    """The job: one run. Picklable (submitit sends it to the node); `checkpoint` is what
    submitit calls on preemption or timeout."""

    def __call__(self, cfg: RunConfig, target: Target, threads: int, cwd: str) -> RunSummary:
        from benchmark.runs import execute

        # As with Ray: where the grid's folder exists (a shared mount), work there, so relative
        # paths (the default sqlite store, checkpoints, data) mean what they mean to the grid.
        if os.path.isdir(cwd):
            os.chdir(cwd)
        return execute(cfg, target, threads=threads)

    def checkpoint(self, *args, **kwargs):
        """Requeue the same call: the run resumes from its own last checkpoint (training
        checkpoints every `train.checkpoint_every` steps), so nothing needs saving here."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


def run_slurm(runs: list[RunConfig], target: Target, workers: int = 2,
              slurm: SlurmOptions | None = None, poll_s: float = 2.0,
              **_: object) -> Iterator[RunSummary]:
    """Submit the runs as one job array (at most `workers` jobs at once: the array's
    parallelism) and yield each summary as its job ends; a job that ends without one (killed,
    cancelled, its node lost) is reported interrupted, to resume on the next invocation.
    Stopping the grid (Ctrl-C) cancels the jobs still queued or running."""
    import submitit
    from submitit.core.utils import FailedJobError, UncompletedJobError

    from benchmark.runs import interrupted

    opts = slurm or SlurmOptions()
    opts.check()
    if not runs:
        return
    executor = submitit.AutoExecutor(folder=opts.folder, cluster=opts.cluster)
    params: dict[str, object] = {"name": "alibench", "timeout_min": opts.time_min,
                                 "cpus_per_task": opts.cpus_per_task,
                                 "gpus_per_node": opts.gpus, "slurm_array_parallelism": workers}
    if opts.partition:
        params["slurm_partition"] = opts.partition
    executor.update_parameters(**params)
    n = len(runs)
    jobs = executor.map_array(SlurmRun(), runs, [target] * n, [opts.cpus_per_task] * n,
                              [os.getcwd()] * n)
    print(f"benchmark.run: submitted {n} runs as {opts.cluster} jobs "
          f"{jobs[0].job_id.split('_')[0]}... (logs in {opts.folder})", file=sys.stderr,
          flush=True)
    pending = dict(zip(jobs, runs, strict=True))
    try:
        while pending:
            for job in [j for j in pending if j.done()]:
                cfg = pending.pop(job)
                try:
                    yield job.result()
                except UncompletedJobError:  # killed: no signal to answer, no result
                    yield interrupted(cfg, f"job {job.job_id} ended without a result "
                                            f"(killed? log: {job.paths.stderr})")
                except FailedJobError as err:  # the job could not run the run at all
                    line = str(err).strip().splitlines()
                    yield interrupted(cfg, f"job {job.job_id} failed: "
                                            f"{line[0] if line else ''}"[:300])
            if pending:
                time.sleep(poll_s)
    finally:
        for job in pending:
            job.cancel(check=False)
