"""The runner records the grid's comparison design on its runs, so the report compares with
the grid's reference with no grid file, and from runs.parquet with no store."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from runner_helpers import ROOT, cli_env, run_cli, store_args, write_grid

from benchmark.report import main


@pytest.mark.slow
def test_the_reference_travels_from_grid_to_runs_to_report(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.yaml", "design", axes={"optim.lr_g": [1e-4, 1e-3],
                                                           "seed": [0, 1]},
                      reference={"optim.lr_g": 1e-3})
    done = run_cli(["--grid", str(grid), *store_args(tmp_path)], cwd=ROOT, env=cli_env())
    assert done.returncode == 0, done.stderr[-2000:]
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    runs = mlflow.MlflowClient(uri).search_runs(
        [mlflow.MlflowClient(uri).get_experiment_by_name("design").experiment_id],
        "tags.`alibench.kind` = 'run'")
    assert len(runs) == 4
    keys = {r.data.tags["alibench.reference_config"] for r in runs}
    reference = {r.data.tags["config_key"] for r in runs if r.data.params["optim.lr_g"] == "0.001"}
    assert keys == reference and len(keys) == 1
    out = tmp_path / "report"
    assert main(["--experiment", "design", "--tracking-uri", uri, "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparisons.csv")
    summary = pd.read_csv(out / "summary.csv").set_index("config")
    assert summary.at["C2", "optim.lr_g"] == 0.001  # configs ordered by lr: C2 is 1e-3
    assert set(table["config_a"]) == {"C2"} and set(table["config_b"]) == {"C1"}
    again = tmp_path / "again"
    assert main(["--runs", str(out / "runs.parquet"), "--out", str(again)]) == 0
    assert (again / "comparisons.csv").read_bytes() == (out / "comparisons.csv").read_bytes()
    assert (again / "summary.csv").read_bytes() == (out / "summary.csv").read_bytes()
