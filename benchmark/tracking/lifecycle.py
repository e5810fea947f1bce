"""The run lifecycle: a grid invocation's run and its training runs, started once (never twice,
however locked the store), reopened to resume, ended with their `Outcome`."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from benchmark.tracking.outcomes import Outcome
from benchmark.tracking.retries import retry_locked, retrying
from benchmark.tracking.tags import (
    KIND_GRID,
    KIND_RUN,
    TAG_DIVERGED_STEP,
    TAG_ERROR,
    TAG_GRID_RUN,
    TAG_HOST,
    TAG_KIND,
    TAG_OUTCOME,
    TAG_PID,
    TAG_PRUNED_STEP,
    TAG_RUN_KEY,
)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def version_tags() -> dict[str, str]:
    import mlflow
    import torch
    import torchvision

    return {"git_commit": git_commit(), "version.torch": torch.__version__,
            "version.torchvision": torchvision.__version__, "version.mlflow": mlflow.__version__}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


class RunLifecycle:
    """The lifecycle half of `MlflowStore` (it needs `self.client`)."""

    client: object

    def _create_run_once(self, experiment_id: str, name: str, tags: dict[str, str],
                         identity: dict[str, str]) -> str:
        """`create_run`, retried while sqlite is locked, yet never creating two runs: "database
        is locked" can come after the insert committed, so before a retry the run is looked up
        by its `identity` tags and its start time (set here, to the millisecond) and reused if
        the failed attempt created it. Otherwise the orphan would stay RUNNING for ever."""
        started = int(time.time() * 1000)
        found = " and ".join([*(f"tags.`{k}` = '{v}'" for k, v in identity.items()),
                              f"attributes.start_time = {started}"])

        def created() -> str:
            return self.client.create_run(experiment_id, start_time=started, tags=tags,
                                          run_name=name).info.run_id

        @retry_locked
        def earlier_attempt() -> str | None:
            runs = self.client.search_runs([experiment_id], filter_string=found, max_results=1)
            return runs[0].info.run_id if runs else None

        return retrying(created, before_retry=earlier_attempt)

    def start_grid(self, experiment_id: str, grid_name: str, grid_file: Path | None) -> str:
        identity = {TAG_KIND: KIND_GRID, TAG_HOST: socket.gethostname(),
                    TAG_PID: str(os.getpid())}
        run_id = self._create_run_once(experiment_id, f"grid-{grid_name}",
                                       {**identity, **version_tags()}, identity)
        if grid_file is not None:
            retry_locked(self.client.log_artifact)(run_id, str(grid_file), "grid")
        return run_id

    @retry_locked
    def end_grid(self, run_id: str, status: str) -> None:
        """`status`: FINISHED, FAILED (a run failed or was interrupted) or KILLED (Ctrl-C)."""
        self.client.set_terminated(run_id, status)

    @retry_locked
    def close_dead_grids(self, experiment_id: str) -> list[str]:
        """Mark KILLED the grid runs still RUNNING whose invocation died on this host (SIGKILL,
        power loss: nothing could end them); the ids closed. A grid run from another host, or
        whose process id is alive (maybe reused), is left alone."""
        running = self.client.search_runs(
            [experiment_id], f"tags.`{TAG_KIND}` = '{KIND_GRID}' and attributes.status = 'RUNNING'")
        closed = []
        for run in running:
            tags = run.data.tags
            if tags.get(TAG_HOST) == socket.gethostname() and not _alive(int(tags[TAG_PID])):
                self.client.set_terminated(run.info.run_id, "KILLED")
                closed.append(run.info.run_id)
        return closed

    def start_run(self, experiment_id: str, name: str, params: dict[str, str],
                  tags: dict[str, str], parent_id: str | None) -> str:
        """A training run with its tags (the run key among them) and every param."""
        from mlflow.entities import Param

        all_tags = {TAG_KIND: KIND_RUN, TAG_OUTCOME: str(Outcome.RUNNING), **version_tags(),
                    **tags}
        if parent_id:  # a tag, not MLflow's nesting: nested runs hide under a collapsed row
            all_tags[TAG_GRID_RUN] = parent_id
        identity = {TAG_KIND: KIND_RUN, TAG_RUN_KEY: all_tags.get(TAG_RUN_KEY, "")}
        run_id = self._create_run_once(experiment_id, name, all_tags, identity)
        items = [Param(k, v[:6000]) for k, v in params.items()]
        log_params = retry_locked(self.client.log_batch)  # the same values again: allowed
        for i in range(0, len(items), 100):
            log_params(run_id, params=items[i:i + 100])
        return run_id

    @retry_locked
    def reopen(self, run_id: str) -> None:
        """An interrupted (or retried) run continues in the same MLflow run.

        The error or divergence of an earlier attempt is dropped: the run's tags describe its
        latest attempt, so a retried run that finishes shows no stale error in the UI.
        """
        stale = set(self.client.get_run(run_id).data.tags) & {TAG_ERROR, TAG_DIVERGED_STEP,
                                                               TAG_PRUNED_STEP}
        for tag in sorted(stale):
            self.client.delete_tag(run_id, tag)
        self.client.update_run(run_id, status="RUNNING")
        self.client.set_tag(run_id, TAG_OUTCOME, str(Outcome.RUNNING))

    @retry_locked
    def finish(self, run_id: str, outcome: Outcome, tags: dict[str, str] | None = None) -> None:
        for key, value in {**(tags or {}), TAG_OUTCOME: str(outcome)}.items():
            self.client.set_tag(run_id, key, value)
        self.client.set_terminated(run_id, "FAILED" if outcome == Outcome.FAILED else "FINISHED")
