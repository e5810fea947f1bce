"""Read one experiment's runs from MLflow into pandas: the only reporting module using MLflow.

Speed: one `search_runs` page gives every run's params, tags and last metric values; metric
histories are fetched only for the keys a run has and the report plots (`wants_history`).
On a sqlite store, 100 runs x 5 keys x 50 points take under a second (bench/report.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass
class ExperimentRuns:
    """One experiment's training runs, as read from MLflow (nothing recomputed).

    runs:    index run_id; run_name, run_key, config_key, seed, outcome, collapsed, start_time.
    params:  index run_id; one column per param, as logged (strings).
    finals:  index run_id; one column per metric key, its last logged value.
    history: columns run_id, key, step, value; only the keys `wants_history` asked for.
    """

    name: str
    tracking_uri: str
    runs: pd.DataFrame
    params: pd.DataFrame
    finals: pd.DataFrame
    history: pd.DataFrame
    duplicates: int  # other MLflow runs of a run key that the report left out


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
        history = _histories(self.client, kept, wants_history)
        return ExperimentRuns(
            name=name,
            tracking_uri=self.tracking_uri,
            runs=_runs_frame(kept),
            params=_frame(kept, lambda r: r.data.params),
            finals=_frame(kept, lambda r: r.data.metrics).astype(float),
            history=history,
            duplicates=len(found) - len(kept),
        )

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


def _runs_frame(runs: list[Run]) -> pd.DataFrame:
    rows = []
    for run in runs:
        tags, params = run.data.tags, run.data.params
        seed = params.get(SEED_PARAM)
        rows.append({
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            "run_key": tags.get(TAG_RUN_KEY, ""),
            "config_key": tags.get(TAG_CONFIG_KEY) or _fallback_config_key(params),
            "seed": int(seed) if seed is not None and seed.lstrip("-").isdigit() else None,
            "outcome": tags.get(TAG_OUTCOME, OUTCOME_FINISHED),
            "collapsed": tags.get(TAG_COLLAPSED, "").lower() == "true",
            "start_time": run.info.start_time,
        })
    return pd.DataFrame(rows).set_index("run_id")


def _fallback_config_key(params: dict[str, str]) -> str:
    """Runs logged without a config_key tag are grouped by every param but the seed."""
    return "|".join(f"{k}={v}" for k, v in sorted(params.items()) if k != SEED_PARAM)


def _frame(runs: list[Run], pick: Callable[[Run], dict]) -> pd.DataFrame:
    index = pd.Index([r.info.run_id for r in runs], name="run_id")
    return pd.DataFrame.from_records([pick(r) for r in runs], index=index)


def _histories(client: mlflow.MlflowClient, runs: list[Run],
               wants: Callable[[str], bool]) -> pd.DataFrame:
    """Long table of the wanted metric histories; only keys each run actually logged."""
    run_ids: list[str] = []
    keys: list[str] = []
    steps: list[int] = []
    values: list[float] = []
    for run in runs:
        for key in sorted(k for k in run.data.metrics if wants(k)):
            for m in client.get_metric_history(run.info.run_id, key):
                run_ids.append(run.info.run_id)
                keys.append(key)
                steps.append(m.step)
                values.append(m.value)
    frame = pd.DataFrame({"run_id": pd.Series(run_ids, dtype=str),
                          "key": pd.Series(keys, dtype=str),
                          "step": pd.Series(steps, dtype="int64"),
                          "value": pd.Series(values, dtype="float64")})
    frame = frame.sort_values(["run_id", "key", "step"], kind="stable", ignore_index=True)
    # A resumed run may log a step twice; the later value is the one MLflow calls latest.
    return frame.drop_duplicates(["run_id", "key", "step"], keep="last", ignore_index=True)
