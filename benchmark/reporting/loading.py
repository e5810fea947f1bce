"""One experiment's runs as pandas frames, from a tracking store (through `benchmark.tracking`,
the only package that talks to MLflow) or from runs.parquet (`runs_file`).

One search gives every run's params, tags and latest metric values; then every metric's full
history is fetched (runs.parquet carries them all, not only the plotted ones). `assemble` builds
the frames from plain records, the same way for a store and for runs.parquet, so a report from
either is byte for byte the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from benchmark.errors import DataError
from benchmark.tracking.outcomes import Outcome
from benchmark.tracking.reading import RunRecord, StoreReader
from benchmark.tracking.tags import (
    KIND_RUN,
    TAG_COLLAPSED,
    TAG_CONFIG_KEY,
    TAG_KIND,
    TAG_OUTCOME,
    TAG_RUN_KEY,
)

SEED_PARAM = "seed"


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


class RunStore(StoreReader):
    """Read-only access to one tracking store, and its experiments loaded as frames."""

    def load(self, name: str, wants_history: Callable[[str], bool]) -> ExperimentRuns:
        """Every training run of experiment `name` (tag alibench.kind=run), one per run key."""
        experiment_id = self.experiment_id(name)
        found = self.runs(experiment_id, f"tags.`{TAG_KIND}` = '{KIND_RUN}'")
        if not found:
            others = len(self.runs(experiment_id))
            raise DataError(f"--experiment: experiment {name!r} has no training runs (tag "
                            f"{TAG_KIND}={KIND_RUN}); it has {others} other run(s)")
        kept = _newest_per_run_key(found)
        return assemble(name, self.tracking_uri, kept, self._points(kept),
                        len(found) - len(kept), wants_history)

    def _points(self, records: list[RunRecord]) -> pd.DataFrame:
        """Every logged point of every metric key of the runs."""
        run_ids: list[str] = []
        keys: list[str] = []
        steps: list[int] = []
        times: list[int] = []
        values: list[float] = []
        for record in records:
            for key in sorted(record.latest):
                for step, timestamp, value in self.history(record.run_id, key):
                    run_ids.append(record.run_id)
                    keys.append(key)
                    steps.append(step)
                    times.append(timestamp)
                    values.append(value)
        return points_frame(run_ids, keys, steps, times, values)


def _newest_per_run_key(runs: list[RunRecord]) -> list[RunRecord]:
    """One run per run key: a finished one if any, else the newest (as MlflowStore.find)."""
    def rank(run: RunRecord) -> tuple[bool, int]:
        return run.tags.get(TAG_OUTCOME) == Outcome.FINISHED, run.start_time or 0

    chosen: dict[str, RunRecord] = {}
    for run in sorted(runs, key=rank):
        chosen[run.tags.get(TAG_RUN_KEY, run.run_id)] = run
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
            "outcome": tags.get(TAG_OUTCOME, str(Outcome.FINISHED)),
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
