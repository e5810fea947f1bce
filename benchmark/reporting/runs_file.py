"""runs.parquet: a study's runs in one file, so its report can be rebuilt with no MLflow store.

One tidy long table, one row per fact (pyarrow, zstd):

    run_id  kind    key            step  timestamp  value   text
    ab12..  info    run_name       -     -          -       adam-s0
    ab12..  info    start_time     -     -          -       1765000000000
    ab12..  param   optim.lr_g     -     -          -       0.0002
    ab12..  tag     outcome        -     -          -       finished
    ab12..  metric  recon_mse      100   1765..     0.031   -       (every point of every key)
    ab12..  latest  recon_mse      -     -          0.031   -       (MLflow's latest value)

`latest` is what MLflow reports as a run's value of a key (its largest step, then time): the
summary is computed from it, so the file states it rather than re-deriving MLflow's rule.
The file's metadata holds the experiment name, the duplicate runs left out, the comparison
design the report used (`design.Design`) and the schema version. Written to a temporary file
and renamed, so an interrupted write leaves no half file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.errors import DataError, first_line
from benchmark.reporting.design import Design
from benchmark.reporting.loading import ExperimentRuns, assemble, points_frame
from benchmark.tracking.reading import RunRecord

FILE_NAME = "runs.parquet"
SCHEMA_VERSION = "1"
KINDS = ("info", "param", "tag", "metric", "latest")
SCHEMA = pa.schema([("run_id", pa.string()), ("kind", pa.string()), ("key", pa.string()),
                    ("step", pa.int64()), ("timestamp", pa.int64()), ("value", pa.float64()),
                    ("text", pa.string())])
META_NAME, META_DUPLICATES, META_DESIGN, META_SCHEMA = (
    b"alibench.experiment", b"alibench.duplicates", b"alibench.design", b"alibench.schema")


def _rows(data: ExperimentRuns) -> pd.DataFrame:
    facts: list[tuple[str, str, str, str]] = []
    values: list[tuple[str, str, float]] = []
    for run in data.records:
        facts.append((run.run_id, "info", "run_name", run.run_name))
        if run.start_time is not None:
            facts.append((run.run_id, "info", "start_time", str(int(run.start_time))))
        facts += [(run.run_id, "param", k, v) for k, v in run.params.items()]
        facts += [(run.run_id, "tag", k, v) for k, v in run.tags.items()]
        values += [(run.run_id, k, v) for k, v in run.latest.items()]
    text = pd.DataFrame(facts, columns=["run_id", "kind", "key", "text"])
    latest = pd.DataFrame(values, columns=["run_id", "key", "value"]).assign(kind="latest")
    metric = data.points.assign(kind="metric")
    return pd.concat([text, metric, latest], ignore_index=True)[list(SCHEMA.names)]


def write(data: ExperimentRuns, design: Design, path: Path) -> Path:
    """Write every run's params, tags, latest values and full metric histories to `path`."""
    table = pa.Table.from_pandas(_rows(data), schema=SCHEMA, preserve_index=False)
    table = table.replace_schema_metadata({
        META_NAME: data.name.encode(), META_DUPLICATES: str(data.duplicates).encode(),
        META_DESIGN: design.to_json().encode(), META_SCHEMA: SCHEMA_VERSION.encode()})
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def read(path: Path, wants_history: Callable[[str], bool]) -> tuple[ExperimentRuns, Design]:
    """The experiment and the design a runs.parquet holds; one-line DataError when it is not
    such a file."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise DataError(f"--runs: cannot read {str(path)!r}: {first_line(err)}") from err
    meta = table.schema.metadata or {}
    if meta.get(META_SCHEMA) != SCHEMA_VERSION.encode() or not table.schema.equals(
            SCHEMA.with_metadata(table.schema.metadata)):
        raise DataError(f"--runs: {str(path)!r} is not an alibench runs file (schema "
                        f"{SCHEMA_VERSION}: columns {', '.join(SCHEMA.names)}); write one "
                        "with `python -m benchmark.report`")
    frame = table.to_pandas()
    unknown = sorted(set(frame["kind"]) - set(KINDS))
    if unknown:
        raise DataError(f"--runs: {str(path)!r}: unknown row kind {unknown[0]!r}; kinds: "
                        f"{', '.join(KINDS)}")
    by_kind = {kind: part for kind, part in frame.groupby("kind")}
    empty = frame.iloc[:0]

    def texts(kind: str) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for run_id, key, text in by_kind.get(kind, empty)[["run_id", "key", "text"]].itertuples(
                index=False):
            out.setdefault(run_id, {})[key] = text
        return out

    info, params, tags = texts("info"), texts("param"), texts("tag")
    latest: dict[str, dict[str, float]] = {}
    for run_id, key, value in by_kind.get("latest", empty)[["run_id", "key", "value"]
                                                           ].itertuples(index=False):
        latest.setdefault(run_id, {})[key] = float(value)
    records = [RunRecord(run_id, info[run_id].get("run_name", ""),
                         int(info[run_id]["start_time"]) if "start_time" in info[run_id]
                         else None, params.get(run_id, {}), tags.get(run_id, {}),
                         latest.get(run_id, {})) for run_id in info]
    metric = by_kind.get("metric", empty)
    points = points_frame(metric["run_id"].tolist(), metric["key"].tolist(),
                          metric["step"].astype("int64").tolist(),
                          metric["timestamp"].astype("int64").tolist(),
                          metric["value"].astype(float).tolist())
    data = assemble(meta[META_NAME].decode(), str(path), records, points,
                    int(meta[META_DUPLICATES].decode()), wants_history)
    return data, Design.from_json(meta[META_DESIGN].decode())
