"""A metric added from outside `benchmark/`: one registration, and it reaches grid validation,
the config's choices, a real run's MLflow store and the generated report, with no other edit.

The plug-in, `recon_l1`, is the mean absolute reconstruction error (lower is better) with its
own step-0 baseline, the error of predicting the training mean image (a floor). Self-contained:
it needs no conftest, and cleans the registry up after itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
import yaml

from benchmark import report, run
from benchmark.evaluation import METRICS, Baseline, EvalConfig, Metric, MetricKey

NAME, KEY, BASELINE = "recon_l1", "recon_l1", "recon_l1_mean_image"
RECON_COUNT = 60
COLUMN = f"{KEY} ({RECON_COUNT} inputs)"  # the declared label, filled from the run's params


def recon_l1(ctx) -> dict[str, float]:
    """Mean |Gx(Gz(x)) - x| over the evaluator's fixed held-out inputs."""
    inputs = ctx.res.inputs
    x = inputs.test_x(inputs.recon)
    return {KEY: (ctx.reconstructions().sample - x).abs().mean().item()}


def mean_image_l1(ctx) -> dict[str, float]:
    """The same error for a model that answers every input with the training mean image."""
    inputs = ctx.res.inputs
    x = inputs.test_x(inputs.recon)
    mean = inputs.train_x(torch.arange(len(inputs.data.train))).mean(dim=0, keepdim=True)
    return {BASELINE: (mean - x).abs().mean().item()}


PLUGIN = Metric(
    recon_l1, kinds=("image", "points"), baseline=mean_image_l1,
    keys=(MetricKey(KEY, higher_is_better=False, label="{key} ({eval.recon_count} inputs)",
                    baseline=Baseline(BASELINE, "mean-image L1 baseline")),))


@pytest.fixture
def plugin() -> Iterator[Metric]:
    METRICS.register(NAME, PLUGIN)
    try:
        yield PLUGIN
    finally:
        METRICS.unregister(NAME)


def _grid(path: Path, name: str, metrics: list[str]) -> Path:
    """A run of a few seconds on the embedded digits, evaluated twice."""
    raw = {"name": name, "base": {
        "data": {"dataset": "digits", "batch_size": 50},
        "model": {"z_dim": 8, "width": 0.125},
        "train": {"steps": 8, "log_every": 2, "eval_every": 4, "checkpoint_every": 4},
        "eval": {"metrics": metrics, "recon_count": RECON_COUNT, "panel_count": 4,
                 "interpolation_steps": 4}}, "axes": {"seed": [0, 1]}}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_the_plugin_is_a_choice_of_the_config(plugin) -> None:
    field = {f.name: f for f in dataclasses.fields(EvalConfig)}["metrics"]
    assert NAME in field.metadata["choices"]()


def test_an_unknown_metric_is_one_line_naming_the_plugin(plugin, tmp_path, monkeypatch,
                                                         capsys) -> None:
    monkeypatch.chdir(tmp_path)
    grid = _grid(tmp_path / "typo.yaml", "typo", ["recon_l2"])
    store = tmp_path / "mlflow.db"
    assert run.main(["--grid", str(grid), "--tracking-uri", f"sqlite:///{store}"]) == 2
    err = capsys.readouterr().err
    assert err == ("error: eval.metrics[0]: unknown value 'recon_l2'; choose from: fid, knn, modes, "
                   "prdc, probe, recon_acc, recon_l1, recon_mse\n")
    assert not store.exists()  # refused before anything was written


@pytest.mark.slow
def test_the_plugin_reaches_mlflow_and_the_report(plugin, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    grid = _grid(tmp_path / "plugin.yaml", "plugin", ["recon_mse", NAME])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert run.main(["--grid", str(grid), "--tracking-uri", uri, "--threads", "1",
                     "--checkpoint-dir", str(tmp_path / "ckpt")]) == 0

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("plugin").experiment_id
    runs = client.search_runs([experiment], "tags.`alibench.kind` = 'run'")
    assert len(runs) == 2
    for logged in runs:
        assert [m.step for m in client.get_metric_history(logged.info.run_id, KEY)] == [4, 8]
        assert [m.step for m in client.get_metric_history(logged.info.run_id, BASELINE)] == [0]
        assert logged.data.metrics[KEY] < logged.data.metrics[BASELINE] * 10  # a real number

    out = tmp_path / "report"
    assert report.main(["--experiment", "plugin", "--tracking-uri", uri,
                        "--out", str(out)]) == 0
    summary = pd.read_csv(out / "summary.csv")
    [row] = summary.to_dict("records")  # one config, two seeds
    finals = [r.data.metrics for r in runs]
    assert row[f"{COLUMN} n"] == 2
    assert row[f"{COLUMN} mean"] == pytest.approx(sum(m[KEY] for m in finals) / 2, rel=1e-12)
    assert row[f"{BASELINE} mean"] == pytest.approx(finals[0][BASELINE], rel=1e-12)
    columns = list(summary.columns)
    at = columns.index(f"{COLUMN} ci95 high")  # the baseline's columns follow its metric's
    assert columns[at + 1: at + 6] == [f"{BASELINE} {s}" for s in (
        "n", "mean", "std", "ci95 low", "ci95 high")]
    markdown = (out / "summary.md").read_text(encoding="utf-8")
    header = next(line for line in markdown.splitlines() if line.startswith("| "))
    assert f"| {COLUMN} |" in header and f"| {BASELINE} |" in header
    assert f"{BASELINE} (mean-image L1 baseline, the floor to beat; lower is better)" in markdown
    assert (out / "plots" / "finals.svg").read_text(encoding="utf-8").count(
        f'id="baseline-{BASELINE}') == 1  # its panel in the final-metric figure, baseline drawn
