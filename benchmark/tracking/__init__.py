"""The only package that talks to MLflow; one module per job:

    outcomes.py      `Outcome`: how a run ended (a tag), what a stored run is (a state)
    tags.py          the tag names alibench writes (docs/CONTRACTS.md)
    retries.py       store calls retried while sqlite is locked; an http store that fails fast
    sqlite_store.py  a new sqlite store appears whole or not at all
    store.py         `MlflowStore`: experiments, runs found by run key (+ lifecycle, view)
    lifecycle.py     grid and training runs: started once, reopened, finished with an outcome
    view.py          the MLflow UI's saved view comparing configs over seeds, and its link
    tracker.py       `Tracker`, what a run reports, and `RunTracker`, into one MLflow run
    datasets.py      a run's datasets as MLflow dataset inputs
    reading.py       the report's read-only access: runs as `RunRecord`s, histories, artifacts

Training and evaluation report to the small `Tracker` interface, so MLflow stays replaceable.
The names below are the package's public face; its own modules import each other directly.
"""

from benchmark.tracking.outcomes import Outcome
from benchmark.tracking.reading import RunRecord, StoreReader
from benchmark.tracking.retries import FAIL_FAST_ENV, fail_fast, retry_locked
from benchmark.tracking.store import DEFAULT_TRACKING_URI, MlflowStore, StoredRun
from benchmark.tracking.tags import (
    KIND_GRID,
    KIND_RUN,
    TAG_COLLAPSED,
    TAG_CONFIG,
    TAG_CONFIG_KEY,
    TAG_DESCRIPTION,
    TAG_DIVERGED_STEP,
    TAG_ERROR,
    TAG_GRID_RUN,
    TAG_KIND,
    TAG_OUTCOME,
    TAG_PRUNED_STEP,
    TAG_RUN_KEY,
    TAG_TORCH_THREADS,
)
from benchmark.tracking.tracker import RunTracker, Tracker

__all__ = [
    "DEFAULT_TRACKING_URI", "FAIL_FAST_ENV", "KIND_GRID", "KIND_RUN", "TAG_COLLAPSED",
    "TAG_CONFIG", "TAG_CONFIG_KEY", "TAG_DESCRIPTION", "TAG_DIVERGED_STEP", "TAG_ERROR",
    "TAG_GRID_RUN", "TAG_KIND", "TAG_OUTCOME", "TAG_PRUNED_STEP", "TAG_RUN_KEY", "TAG_TORCH_THREADS",
    "MlflowStore",
    "Outcome", "RunRecord", "RunTracker", "StoreReader", "StoredRun", "Tracker", "fail_fast",
    "retry_locked",
]
