"""The real `mlflow ui` serves a grid's runs: top-level training runs that name their grid run
in a tag (not nested under it), with params that line up in the compare view."""

from __future__ import annotations

import json
import urllib.request

import pytest
from runner_helpers import mlflow_ui, run_cli, store_args, write_grid

from benchmark.grid import load_grid
from benchmark.run_config import run_key, run_name


def call(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_mlflow_ui_serves_the_training_runs_beside_their_grid_run(tmp_path):
    grid = write_grid(tmp_path / "g.yaml", "ui", axes={"seed": [0, 1]},
                      base={"train": {"steps": 4, "eval_every": 4}})
    out = run_cli(["--grid", str(grid), *store_args(tmp_path)], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr

    with mlflow_ui(tmp_path) as base:
        experiment = call(base, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=ui")
        found = call(base, "/api/2.0/mlflow/runs/search", {
            "experiment_ids": [experiment["experiment"]["experiment_id"]], "max_results": 100})

    runs = found["runs"]
    tags = [{t["key"]: t["value"] for t in r["data"]["tags"]} for r in runs]
    parents = [r for r, t in zip(runs, tags, strict=True) if t["alibench.kind"] == "grid"]
    children = [(r, t) for r, t in zip(runs, tags, strict=True) if t["alibench.kind"] == "run"]
    assert len(parents) == 1 and len(children) == 2
    parent_id = parents[0]["info"]["run_id"]
    expected = {run_key(cfg): run_name(cfg) for cfg in load_grid(grid).runs}
    params = []
    for run, run_tags in children:
        assert run_tags["alibench.grid_run"] == parent_id and "mlflow.parentRunId" not in run_tags
        assert run["info"]["status"] == "FINISHED" and run_tags["outcome"] == "finished"
        assert run["info"]["run_name"] == expected[run_tags["run_key"]]
        assert {m["key"] for m in run["data"]["metrics"]} >= {"loss_d", "loss_g", "recon_mse"}
        params.append({p["key"]: p["value"] for p in run["data"]["params"]})
    # The compare view lines configs up param by param: same keys, differing only in the seed.
    assert params[0].keys() == params[1].keys()
    assert {k for k in params[0] if params[0][k] != params[1][k]} == {"seed"}
    assert params[0]["optim.lr_g"] == "0.0002" and params[0]["data.dataset"] == "digits"
    # The experiment says it holds training runs, and carries the saved comparison view.
    experiment_tags = {t["key"]: t["value"] for t in experiment["experiment"]["tags"]}
    assert experiment_tags["mlflow.experimentKind"] == "custom_model_development"
    view = json.loads(experiment_tags["mlflow.sharedViewState.alibench-compare-seeds"])
    assert view["name"] == "alibench: configs over seeds" and view["state"].startswith("deflate;")
