"""The report's read-only access to a tracking store: experiments, runs as plain records, metric
histories and artifacts. MLflow's types stay here; the report sees `RunRecord`s and tuples."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import ConfigError, DataError, first_line
from benchmark.tracking.retries import fail_fast

PAGE_SIZE = 1000
MAX_LISTED = 20  # experiment names listed in an error message
# A progress bar per downloaded panel would bury the CLI's one line of output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@dataclass(frozen=True)
class RunRecord:
    """One run as a store lists it: what the report needs besides the metric points."""

    run_id: str
    run_name: str
    start_time: int | None
    params: dict[str, str]
    tags: dict[str, str]
    latest: dict[str, float]  # MLflow's latest value of each metric key


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a sqlite URI (so a typo does not create an empty store)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri.endswith(":memory:"):
        return None
    return Path(uri[len(prefix):])


class StoreReader:
    """Read-only access to one MLflow tracking store; a store that cannot be used is one line."""

    def __init__(self, tracking_uri: str) -> None:
        import mlflow
        from mlflow.exceptions import MlflowException

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
        from mlflow.entities import ViewType
        from mlflow.exceptions import MlflowException

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

    def runs(self, experiment_id: str, filter_string: str = "") -> list[RunRecord]:
        """Every run of the experiment that `filter_string` (MLflow's search syntax) selects."""
        records: list[RunRecord] = []
        token = None
        while True:
            page = self.client.search_runs([experiment_id], filter_string,
                                           max_results=PAGE_SIZE, page_token=token)
            records.extend(RunRecord(r.info.run_id, r.info.run_name, r.info.start_time,
                                     dict(r.data.params), dict(r.data.tags),
                                     dict(r.data.metrics)) for r in page)
            token = page.token
            if not token:
                return records

    def history(self, run_id: str, key: str) -> list[tuple[int, int, float]]:
        """Every logged point of one metric of one run: (step, timestamp, value)."""
        return [(m.step, m.timestamp, m.value)
                for m in self.client.get_metric_history(run_id, key)]

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
