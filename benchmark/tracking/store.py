"""`MlflowStore`: one tracking URI (a sqlite file by default, or a server), its experiments, and
each run found by its run key; with the run lifecycle (`lifecycle.py`) and the UI's saved view
(`view.py`) it is what the runner and the tuner write through."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import ConfigError, first_line
from benchmark.tracking.lifecycle import RunLifecycle
from benchmark.tracking.outcomes import Outcome, stored_state
from benchmark.tracking.retries import fail_fast, is_lock_error, retry_locked
from benchmark.tracking.sqlite_store import ensure_store
from benchmark.tracking.tags import EXPERIMENT_KIND_TRAINING, TAG_EXPERIMENT_KIND, TAG_OUTCOME, TAG_RUN_KEY
from benchmark.tracking.tracker import RunTracker
from benchmark.tracking.view import SavedView

DEFAULT_TRACKING_URI = "sqlite:///runs/mlflow.db"


def _prepare_local_store(tracking_uri: str) -> Path | None:
    """For sqlite and file URIs, create the folder and return where artifacts go beside it."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):])
        db.parent.mkdir(parents=True, exist_ok=True)
        artifacts = db.parent.resolve() / "artifacts"
        ensure_store(db, artifacts)  # made whole under another name, or not at all
        return artifacts
    return None


@dataclass
class StoredRun:
    run_id: str
    state: Outcome  # FINISHED, DIVERGED, FAILED, PRUNED or INTERRUPTED (`stored_state`)
    metrics: dict[str, float]


class MlflowStore(RunLifecycle, SavedView):
    """Experiments and runs in one tracking URI (sqlite file by default, or a server)."""

    def __init__(self, tracking_uri: str = DEFAULT_TRACKING_URI):
        from mlflow.tracking import MlflowClient

        # With a tracking server MLflow prints a "View run" link to stdout for every run it
        # ends; stdout is the grid's one summary line per run, so keep it that.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        self.tracking_uri = tracking_uri
        try:  # an unknown scheme, or a sqlite path under a file
            self.artifact_root = _prepare_local_store(tracking_uri)
            self.client = MlflowClient(tracking_uri=tracking_uri)
        except Exception as err:
            raise ConfigError(f"--tracking-uri: cannot use {tracking_uri!r}: "
                              f"{first_line(err)}") from None

    @retry_locked
    def check_reachable(self) -> None:
        """Fail early, with one line, on a tracking URI that cannot be used."""
        try:
            with fail_fast():
                self.client.search_experiments(max_results=1)
        except Exception as err:
            if is_lock_error(err):
                raise
            raise ConfigError(f"--tracking-uri: cannot use {self.tracking_uri!r}: "
                              f"{first_line(err)}") from None

    @retry_locked
    def experiment_id(self, name: str, create: bool = True) -> str | None:
        """The experiment called `name`, created if asked; either way (unless `create` is
        false: nothing is written then) marked as a training experiment for the UI."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            if create and experiment.tags.get(TAG_EXPERIMENT_KIND) != EXPERIMENT_KIND_TRAINING:
                self.client.set_experiment_tag(experiment.experiment_id, TAG_EXPERIMENT_KIND,
                                               EXPERIMENT_KIND_TRAINING)
            return experiment.experiment_id
        if not create:
            return None
        location = (self.artifact_root / name).as_uri() if self.artifact_root else None
        try:
            return self.client.create_experiment(
                name, artifact_location=location,
                tags={TAG_EXPERIMENT_KIND: EXPERIMENT_KIND_TRAINING})
        except Exception:
            # Another worker created it first.
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id

    @retry_locked
    def find(self, experiment_id: str, key: str) -> StoredRun | None:
        """The training run with this run key, preferring a finished one."""
        runs = self.client.search_runs(
            [experiment_id], filter_string=f"tags.{TAG_RUN_KEY} = '{key}'",
            order_by=["attributes.start_time DESC"])
        return _preferred(runs)

    @retry_locked
    def find_all(self, experiment_id: str) -> dict[str, StoredRun]:
        """`find` for every run key of the experiment at once: one paged search instead of one
        query per key (a 500-run grid's `--dry-run` on a filled store: 1.1 s instead of 5.5 s)."""
        by_key: dict[str, list] = {}
        token = None
        while True:
            page = self.client.search_runs([experiment_id], max_results=1000, page_token=token,
                                           order_by=["attributes.start_time DESC"])
            for run in page:
                key = run.data.tags.get(TAG_RUN_KEY)
                if key is not None:  # grid (parent) runs have no run key
                    by_key.setdefault(key, []).append(run)
            token = page.token
            if not token:
                return {key: _preferred(runs) for key, runs in by_key.items()}

    def tracker(self, run_id: str) -> RunTracker:
        return RunTracker(self.client, run_id)


def _preferred(runs: list) -> StoredRun | None:
    """Of one key's runs, newest first: a finished one, else the newest."""
    if not runs:
        return None
    states = [stored_state(r.data.tags.get(TAG_OUTCOME), r.info.status) for r in runs]
    chosen = next((i for i, s in enumerate(states) if s == Outcome.FINISHED), 0)
    run = runs[chosen]
    return StoredRun(run.info.run_id, states[chosen], dict(run.data.metrics))
