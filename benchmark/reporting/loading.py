"""Read one experiment's runs from MLflow into pandas: the only reporting module using MLflow.

One `search_runs` page gives every run's params, tags and latest metric values; then every
metric's full history is fetched (runs.parquet carries them all, not only the plotted ones).
`assemble` builds the frames from plain records, the same way for MLflow and for runs.parquet
(`runs_file`), so a report from either is byte for byte the same.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities import Run, ViewType
from mlflow.exceptions import MlflowException

from benchmark.errors import ConfigError, DataError, first_line
from benchmark.tracking import (
    OUTCOME_FINISHED,
    TAG_COLLAPSED,
    TAG_CONFIG_KEY,
    TAG_KIND,
    TAG_OUTCOME,
    TAG_RUN_KEY,
    fail_fast,
)

RUN_KIND = "run"  # the TAG_KIND of a training run (grid runs are "grid")
SEED_PARAM = "seed"
PAGE_SIZE = 1000
# A progress bar per downloaded panel would bury the CLI's one line of output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
MAX_LISTED = 20  # experiment names listed in an error message


@dataclass(frozen=True)
class RunRecord:
    """One run as a store lists it: what `assemble` needs besides the metric points."""

    run_id: str
    run_name: str
    start_time: int | None
    params: dict[str, str]
    tags: dict[str, str]
    latest: dict[str, float]  # MLflow's latest value of each metric key


@dataclass
class ExperimentRuns:
    """One experiment's training runs, as read from MLflow (nothing recomputed).

    runs:    index run_id; run_name, run_key, config_key, seed, outcome, collapsed, start_time.
    params:  index run_id; one column per param, as logged (strings).
    finals:  index run_id; one column per metric key, MLflow's latest value.
    history: columns run_id, key, step, value; only the keys `wants_history` asked for, one
             value per step (the latest logged).
    tags:    index run_id; one column per tag, as logged.
    points:  columns run_id, key, step, timestamp, value: every logged point of every key.
    records: the runs as the store listed them (params, tags and latest values in the order
             logged, which orders the columns): what runs.parquet stores.
    """

    name: str
    tracking_uri: str  # where the runs were read: a tracking URI or a runs.parquet path
    runs: pd.DataFrame
    params: pd.DataFrame
    finals: pd.DataFrame
    history: pd.DataFrame
    duplicates: int  # other MLflow runs of a run key that the report left out
    tags: pd.DataFrame = field(default_factory=pd.DataFrame)
    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    records: list[RunRecord] = field(default_factory=list)


POINT_COLUMNS = ("run_id", "key", "step", "timestamp", "value")


def points_frame(run_ids: list[str], keys: list[str], steps: list[int], timestamps: list[int],
                 values: list[float]) -> pd.DataFrame:
    """The long table of metric points, in one canonical order (run, key, step, time)."""
    frame = pd.DataFrame({"run_id": pd.Series(run_ids, dtype=str),
                          "key": pd.Series(keys, dtype=str),
                          "step": pd.Series(steps, dtype="int64"),
                          "timestamp": pd.Series(timestamps, dtype="int64"),
                          "value": pd.Series(values, dtype="float64")})
    return frame.sort_values(["run_id", "key", "step", "timestamp"], kind="stable",
                             ignore_index=True)


def assemble(name: str, source: str, records: list[RunRecord], points: pd.DataFrame,
             duplicates: int, wants_history: Callable[[str], bool]) -> ExperimentRuns:
    """The frames of one experiment from plain records: runs sorted by id, columns in the
    order the runs logged them (the config ids follow the varying params in that order)."""
    records = sorted(records, key=lambda r: r.run_id)
    history = points[points["key"].map(wants_history).astype(bool)][
        ["run_id", "key", "step", "value"]]
    # A resumed run may log a step twice; the later value is the one MLflow calls latest.
    history = history.drop_duplicates(["run_id", "key", "step"], keep="last", ignore_index=True)
    return ExperimentRuns(
        name=name,
        tracking_uri=source,
        runs=_runs_frame(records),
        params=_frame(records, lambda r: r.params),
        finals=_frame(records, lambda r: r.latest).astype(float),
        history=history,
        duplicates=duplicates,
        tags=_frame(records, lambda r: r.tags),
        points=points,
        records=records,
    )


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a sqlite URI (so a typo does not create an empty store)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri.endswith(":memory:"):
        return None
    return Path(uri[len(prefix):])


class RunStore:
    """Read-only access to one MLflow tracking store."""

    def __init__(self, tracking_uri: str) -> None:
        path = _sqlite_file(tracking_uri)
        if path is not None and not path.is_file():
            raise DataError(f"--tracking-uri: no MLflow store at {path} ({tracking_uri}); "
                            "run `python -m benchmark.run --grid ...` first or pass the "
                            "store's URI")
        self.tracking_uri = tracking_uri
        try:
            self.client = mlflow.MlflowClient(tracking_uri=tracking_uri)
            with fail_fast():  # an http store that does not answer: seconds, not minutes
                self.client.search_experiments(max_results=1)  # opens the store: fail here, once
        except MlflowException as err:
            raise DataError(f"--tracking-uri: cannot use {tracking_uri!r}: "
                            f"{first_line(err)}") from err

    def experiment_id(self, name: str) -> str:
        """The id of experiment `name`; ConfigError listing the experiments that exist."""
        try:
            experiment = self.client.get_experiment_by_name(name)
            if experiment is not None:
                return experiment.experiment_id
            names = sorted(e.name for e in self.client.search_experiments(
                view_type=ViewType.ACTIVE_ONLY, max_results=MAX_LISTED + 1))
        except MlflowException as err:
            raise DataError(f"--tracking-uri {self.tracking_uri}: {first_line(err)}") from err
        listed = ", ".join(names[:MAX_LISTED]) + (", ..." if len(names) > MAX_LISTED else "")
        raise ConfigError(f"--experiment: no experiment {name!r} in {self.tracking_uri}; "
                          f"experiments: {listed or '(none)'}")

    def _search(self, experiment_id: str, filter_string: str) -> list[Run]:
        runs: list[Run] = []
        token = None
        while True:
            page = self.client.search_runs([experiment_id], filter_string,
                                           max_results=PAGE_SIZE, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def load(self, name: str, wants_history: Callable[[str], bool]) -> ExperimentRuns:
        """Every training run of experiment `name` (tag alibench.kind=run), one per run key."""
        experiment_id = self.experiment_id(name)
        found = self._search(experiment_id, f"tags.`{TAG_KIND}` = '{RUN_KIND}'")
        if not found:
            others = len(self._search(experiment_id, ""))
            raise DataError(f"--experiment: experiment {name!r} has no training runs (tag "
                            f"{TAG_KIND}={RUN_KIND}); it has {others} other run(s)")
        kept = _newest_per_run_key(found)
        records = [RunRecord(r.info.run_id, r.info.run_name, r.info.start_time,
                             dict(r.data.params), dict(r.data.tags), dict(r.data.metrics))
                   for r in kept]
        return assemble(name, self.tracking_uri, records, _points(self.client, kept),
                        len(found) - len(kept), wants_history)

    def artifact_paths(self, run_id: str, folder: str) -> list[str]:
        """The artifact paths directly under `folder` of a run (e.g. panels/generation.png)."""
        return [f.path for f in self.client.list_artifacts(run_id, folder) if not f.is_dir]

    def download(self, run_id: str, path: str, dst: Path) -> Path:
        """Copy one artifact of a run to the file `dst`."""
        dst.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dst.parent) as tmp:
            local = self.client.download_artifacts(run_id, path, tmp)
            shutil.move(local, dst)
        return dst


def _newest_per_run_key(runs: list[Run]) -> list[Run]:
    """One MLflow run per run key: a finished one if any, else the newest (as tracking.find)."""
    def rank(run: Run) -> tuple[bool, int]:
        return run.data.tags.get(TAG_OUTCOME) == OUTCOME_FINISHED, run.info.start_time or 0

    chosen: dict[str, Run] = {}
    for run in sorted(runs, key=rank):
        chosen[run.data.tags.get(TAG_RUN_KEY, run.info.run_id)] = run
    return list(chosen.values())


def _runs_frame(records: list[RunRecord]) -> pd.DataFrame:
    rows = []
    for run in records:
        tags, params = run.tags, run.params
        seed = params.get(SEED_PARAM)
        rows.append({
            "run_id": run.run_id,
            "run_name": run.run_name,
            "run_key": tags.get(TAG_RUN_KEY, ""),
            "config_key": tags.get(TAG_CONFIG_KEY) or _fallback_config_key(params),
            "seed": int(seed) if seed is not None and seed.lstrip("-").isdigit() else None,
            "outcome": tags.get(TAG_OUTCOME, OUTCOME_FINISHED),
            "collapsed": tags.get(TAG_COLLAPSED, "").lower() == "true",
            "start_time": run.start_time,
        })
    return pd.DataFrame(rows).set_index("run_id")


def _fallback_config_key(params: dict[str, str]) -> str:
    """Runs logged without a config_key tag are grouped by every param but the seed."""
    return "|".join(f"{k}={v}" for k, v in sorted(params.items()) if k != SEED_PARAM)


def _frame(records: list[RunRecord], pick: Callable[[RunRecord], dict]) -> pd.DataFrame:
    index = pd.Index([r.run_id for r in records], name="run_id")
    return pd.DataFrame.from_records([pick(r) for r in records], index=index)


def _points(client: mlflow.MlflowClient, runs: list[Run]) -> pd.DataFrame:
    """Every logged point of every metric key of the runs."""
    run_ids: list[str] = []
    keys: list[str] = []
    steps: list[int] = []
    times: list[int] = []
    values: list[float] = []
    for run in runs:
        for key in sorted(run.data.metrics):
            for m in client.get_metric_history(run.info.run_id, key):
                run_ids.append(run.info.run_id)
                keys.append(key)
                steps.append(m.step)
                times.append(m.timestamp)
                values.append(m.value)
    return points_frame(run_ids, keys, steps, times, values)
