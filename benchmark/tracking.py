"""The only module that talks to MLflow (with `sqlite_store`, which makes a new sqlite store).

Training and evaluation report to the small `Tracker` interface; `MlflowStore` finds, starts,
resumes and finishes runs by their run key. Every client call retries with backoff when several
processes meet sqlite's "database is locked", so parallel workers lose nothing.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import random
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from benchmark.errors import ConfigError, first_line
from benchmark.sqlite_store import ensure_store

if TYPE_CHECKING:
    from benchmark.data.provenance import DatasetRecord

DEFAULT_TRACKING_URI = "sqlite:///runs/mlflow.db"

# Tag names (docs/CONTRACTS.md).
TAG_KIND = "alibench.kind"
TAG_RUN_KEY = "run_key"
TAG_CONFIG_KEY = "config_key"
TAG_OUTCOME = "outcome"
TAG_DIVERGED_STEP = "diverged_step"
TAG_PRUNED_STEP = "pruned_step"  # a pruned run: the step it was stopped at
TAG_ERROR = "error"
TAG_COLLAPSED = "collapsed"
TAG_GRID_RUN = "alibench.grid_run"  # training runs: the grid run that started them
TAG_CONFIG = "alibench.config"  # training runs: the config's readable name (no seed)
TAG_DESCRIPTION = "mlflow.note.content"  # the run's description in the UI
TAG_HOST = "alibench.host"  # grid runs: where the invocation runs
TAG_PID = "alibench.pid"  # grid runs: its process id there

# MLflow 3's UI opens an experiment by its kind; without the tag it guesses, and a grid's
# experiment opened on the GenAI overview (traces, token usage) instead of the training runs.
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND_TRAINING = "custom_model_development"

# A saved view of MLflow 3's runs page ("Views" menu; opened by the link `ui_link` prints): an
# experiment tag holding the page's state as JSON, deflated, as the UI writes it.
VIEW_TAG_PREFIX = "mlflow.sharedViewState."
VIEW_KEY = "alibench-compare-seeds"
VIEW_NAME = "alibench: configs over seeds"
KEY_TAGS = ("dataset", "optimizer", "scheme", "stabilizers")

OUTCOME_RUNNING = "running"
OUTCOME_FINISHED = "finished"
OUTCOME_DIVERGED = "diverged"
OUTCOME_FAILED = "failed"
OUTCOME_PRUNED = "pruned"  # stopped early by a tuning search's pruner: an outcome, not a failure

# What a run is in the store, for skipping, resuming and `--dry-run`.
STATE_NEW = "new"
STATE_FINISHED = "finished"
STATE_INTERRUPTED = "interrupted"
STATE_FAILED = "failed"
STATE_DIVERGED = "diverged"
STATE_PRUNED = "pruned"


class Tracker(Protocol):
    """What a run reports; MLflow stays replaceable behind it."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def log_image(self, image: np.ndarray, path: str) -> None: ...

    def set_tags(self, tags: dict[str, str]) -> None: ...

    def log_datasets(self, records: list[DatasetRecord]) -> None: ...


T = TypeVar("T")


def _is_lock_error(err: Exception) -> bool:
    text = str(err).lower()
    return "database is locked" in text or "database table is locked" in text


LOCK_ATTEMPTS = 40  # with the backoff below: about a minute of a store locked by others


def _retrying(call: Callable[[], T], before_retry: Callable[[], T | None] | None = None) -> T:
    """`call()`, again with jittered exponential backoff while sqlite is locked. Before each
    retry, `before_retry()` may return the result the failed attempt achieved after all."""
    delay = 0.05
    for attempt in range(LOCK_ATTEMPTS):
        if attempt and before_retry is not None:
            done = before_retry()
            if done is not None:
                return done
        try:
            return call()
        except Exception as err:  # MlflowException or sqlalchemy's OperationalError
            if not _is_lock_error(err) or attempt == LOCK_ATTEMPTS - 1:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def retry_locked(fn: Callable[..., T]) -> Callable[..., T]:
    """Retry a store call with jittered exponential backoff while sqlite is locked. Only for
    calls that may run twice: a run's creation goes through `MlflowStore._create_run_once`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return _retrying(lambda: fn(*args, **kwargs))

    return wrapper


# MLflow retries an unreachable server 7 times with doubling backoff (about four minutes); the
# reachability check gives up after one retry and a 10 s timeout instead, unless the user set
# these variables.
FAIL_FAST_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


@contextlib.contextmanager
def fail_fast():
    """Within this block, an http tracking store that does not answer fails in seconds."""
    unset = [k for k in FAIL_FAST_ENV if k not in os.environ]
    os.environ.update({k: FAIL_FAST_ENV[k] for k in unset})
    try:
        yield
    finally:
        for key in unset:
            os.environ.pop(key, None)


def _prepare_local_store(tracking_uri: str) -> Path | None:
    """For sqlite and file URIs, create the folder and return where artifacts go beside it."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):])
        db.parent.mkdir(parents=True, exist_ok=True)
        artifacts = db.parent.resolve() / "artifacts"
        ensure_store(db, artifacts)  # made whole under another name, or not at all
        return artifacts
    return None


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def version_tags() -> dict[str, str]:
    import mlflow
    import torch
    import torchvision

    return {"git_commit": git_commit(), "version.torch": torch.__version__,
            "version.torchvision": torchvision.__version__, "version.mlflow": mlflow.__version__}


@dataclass
class StoredRun:
    run_id: str
    state: str
    metrics: dict[str, float]


class MlflowStore:
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
            if _is_lock_error(err):
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
    def save_comparison_view(self, experiment_id: str, metric_keys: list[str]) -> None:
        """Save (or refresh) the view that compares configs over seeds: runs grouped by the
        `alibench.config` tag, so each chart draws a config's mean with its min-max band, with
        the key tags and `metric_keys` as table columns."""
        import base64
        import json
        import zlib

        columns = ["attributes.`Dataset`", "attributes.`Description`",
                   *(f"tags.`{t}`" for t in KEY_TAGS), *(f"metrics.`{m}`" for m in metric_keys)]
        state = {"searchFilter": "", "orderByKey": "attributes.start_time", "orderByAsc": False,
                 "startTime": "ALL", "lifecycleFilter": "Active", "datasetsFilter": [],
                 "modelVersionFilter": "All Runs", "selectedColumns": columns,
                 "useGroupedValuesInCharts": True, "hideEmptyCharts": True,
                 "groupBy": {"aggregateFunction": "average", "groupByKeys": [
                     {"mode": "tag", "groupByData": TAG_CONFIG}]},
                 "globalLineChartConfig": {"xAxisKey": "step", "lineSmoothness": 0,
                                           "selectedXAxisMetricKey": ""}}
        packed = base64.b64encode(zlib.compress(json.dumps(state).encode())).decode()
        now = int(time.time() * 1000)
        self.client.set_experiment_tag(experiment_id, VIEW_TAG_PREFIX + VIEW_KEY, json.dumps(
            {"name": VIEW_NAME, "createdAt": now, "updatedAt": now, "state": f"deflate;{packed}"}))

    def ui_link(self, experiment_id: str, base: str = "http://127.0.0.1:5000") -> str:
        """Where a browser opens the comparison view: the training runs (MLflow 3.17 opens an
        experiment on its GenAI overview unless the link asks for the "Model training" side),
        as charts, with the saved view. `base`: the tracking server, or `mlflow ui`'s address."""
        if self.tracking_uri.startswith(("http://", "https://")):
            base = self.tracking_uri.rstrip("/")
        return (f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
                f"&compareRunsMode=CHART&viewStateShareKey={VIEW_KEY}")

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

        return _retrying(created, before_retry=earlier_attempt)

    def start_grid(self, experiment_id: str, grid_name: str, grid_file: Path | None) -> str:
        identity = {TAG_KIND: "grid", TAG_HOST: socket.gethostname(), TAG_PID: str(os.getpid())}
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
            [experiment_id], f"tags.`{TAG_KIND}` = 'grid' and attributes.status = 'RUNNING'")
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

        all_tags = {TAG_KIND: "run", TAG_OUTCOME: OUTCOME_RUNNING, **version_tags(), **tags}
        if parent_id:  # a tag, not MLflow's nesting: nested runs hide under a collapsed row
            all_tags[TAG_GRID_RUN] = parent_id
        identity = {TAG_KIND: "run", TAG_RUN_KEY: all_tags.get(TAG_RUN_KEY, "")}
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
        self.client.set_tag(run_id, TAG_OUTCOME, OUTCOME_RUNNING)

    @retry_locked
    def finish(self, run_id: str, outcome: str, tags: dict[str, str] | None = None) -> None:
        for key, value in {**(tags or {}), TAG_OUTCOME: outcome}.items():
            self.client.set_tag(run_id, key, value)
        self.client.set_terminated(run_id, "FAILED" if outcome == OUTCOME_FAILED else "FINISHED")

    def tracker(self, run_id: str) -> RunTracker:
        return RunTracker(self, run_id)


def _preferred(runs: list) -> StoredRun | None:
    """Of one key's runs, newest first: a finished one, else the newest."""
    if not runs:
        return None
    run = next((r for r in runs if _state_of(r) == STATE_FINISHED), runs[0])
    return StoredRun(run.info.run_id, _state_of(run), dict(run.data.metrics))


def _state_of(run) -> str:
    outcome = run.data.tags.get(TAG_OUTCOME)
    if outcome == OUTCOME_FINISHED and run.info.status == "FINISHED":
        return STATE_FINISHED
    if outcome == OUTCOME_DIVERGED:
        return STATE_DIVERGED
    if outcome == OUTCOME_FAILED:
        return STATE_FAILED
    if outcome == OUTCOME_PRUNED and run.info.status == "FINISHED":
        return STATE_PRUNED
    return STATE_INTERRUPTED  # still RUNNING (killed) or KILLED: resume from its checkpoint


class RunTracker:
    """Logs into one MLflow run. On resume it skips metric steps the run already holds, so a
    step redone after an interruption is recorded exactly once."""

    def __init__(self, store: MlflowStore, run_id: str):
        self.store = store
        self.run_id = run_id
        self.logged_through = self._logged_through()

    @retry_locked
    def _logged_through(self) -> dict[str, int]:
        client = self.store.client
        keys = client.get_run(self.run_id).data.metrics
        return {k: max(m.step for m in client.get_metric_history(self.run_id, k)) for k in keys}

    @retry_locked
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items()
                 if step > self.logged_through.get(k, -1)]
        if items:
            self.store.client.log_batch(self.run_id, metrics=items)
            for m in items:
                self.logged_through[m.key] = step

    @retry_locked
    def log_image(self, image: np.ndarray, path: str) -> None:
        from PIL import Image

        folder, _, name = path.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / name
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            file.write_bytes(buffer.getvalue())
            self.store.client.log_artifact(self.run_id, str(file), folder or None)

    @retry_locked
    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.store.client.set_tag(self.run_id, key, str(value))

    @retry_locked
    def log_datasets(self, records: list[DatasetRecord]) -> None:
        """Each split as an MLflow dataset input (name, digest, source, profile; the split as its
        context). MLflow keeps one input per dataset and run, so a resumed run logs it again
        harmlessly."""
        from mlflow.entities import DatasetInput, InputTag

        inputs = [DatasetInput(_mlflow_dataset(r)._to_mlflow_entity(),
                               [InputTag("mlflow.data.context", r.split)]) for r in records]
        for attempt in range(3):
            try:
                self.store.client.log_inputs(self.run_id, datasets=inputs)
                return
            except Exception as err:
                # A dataset is stored once per experiment: parallel runs of one grid that
                # log it at the same moment collide on its unique key; the loser's next
                # attempt finds it stored and links to it.
                text = str(err).lower()
                if attempt == 2 or not ("unique" in text or "duplicate" in text):
                    raise


def _mlflow_dataset(record: DatasetRecord):
    """An MLflow `MetaDataset` (metadata only: the samples stay where they are) with a profile."""
    import json

    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.sources import LocalArtifactDatasetSource

    class ProfiledDataset(MetaDataset):
        def to_dict(self) -> dict[str, str]:
            return {**super().to_dict(), "profile": json.dumps(record.profile)}

    source = (LocalArtifactDatasetSource(record.source) if record.source_kind == "local"
              else CodeDatasetSource({"mlflow.source.name": record.source}))
    return ProfiledDataset(source, name=record.name, digest=record.digest)
