"""A new optimizer with a new hyperparameter, a stabilizer on each side and a dataset with an
image size of its own, all registered from outside benchmark/ and optim/ (`extensions.py`),
flow through grid validation and its one-line errors, the choices, run names, a real MLflow
store and the generated report."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import mlflow
import pytest

from benchmark.data import DataConfig
from benchmark.grid import load_grid
from benchmark.optimizers import OptimConfig
from benchmark.run import main as run_main
from benchmark.run_config import flat_params, run_key, run_name
from benchmark.stabilizers import STABILIZERS

PLUGGED = {"optim": {"name": "rmsprop", "lr_g": 1e-3, "lr_d": 1e-3},
           "stabilizers": [{"name": "logit_penalty", "weight": 0.5}, {"name": "latent_norm"}]}


def _choices(cls: type, name: str) -> list:
    return {f.name: f for f in dataclasses.fields(cls)}[name].metadata["choices"]()


def test_plugins_are_choices_and_name_their_runs(plugins, grid_file) -> None:
    assert "rmsprop" in _choices(OptimConfig, "name")
    assert "stripes" in _choices(DataConfig, "dataset") and 16 in _choices(DataConfig, "image_size")
    assert {"logit_penalty", "latent_norm"} <= set(STABILIZERS.names())
    grid = load_grid(grid_file("plugged", PLUGGED, axes={"optim.alpha": [0.9, 0.99]}))
    assert [run_name(r) for r in grid.runs] == [
        "stripes-rmsprop-alternating-alpha0.9-logit_penalty(weight=0.5)+latent_norm-lr0.001_0.001-s0",
        "stripes-rmsprop-alternating-logit_penalty(weight=0.5)+latent_norm-lr0.001_0.001-s0"]  # default
    params = flat_params(grid.runs[0])
    assert params["optim.alpha"] == "0.9" and params["data.image_size"] == "16"
    assert params["stabilizers"] == "logit_penalty(weight=0.5)+latent_norm"


def test_registering_plugins_changes_no_built_in_run_key(grid_file, request) -> None:
    """A plug-in's option enters only the keys of runs that use its optimizer."""
    path = grid_file("built_in", {"data": {"dataset": "digits", "image_size": 28}})
    before = [run_key(r) for r in load_grid(path).runs]
    request.getfixturevalue("plugins")
    assert [run_key(r) for r in load_grid(path).runs] == before


@pytest.mark.parametrize(("base", "message"), [
    ({"optim": {"name": "rmsprop", "alpha": 1.5}},
     r"optim.alpha: 1.5 is above the maximum 0.999999"),
    ({"optim": {"name": "adam", "alpha": 0.5}},
     r"optim.alpha: value 0.5 has no effect with optim.name 'adam'; leave it at 0.99 \(adam "
     r"takes: lr_g, lr_d, beta1, beta2\)"),
    ({"optim": {"name": "rmsprop", "alfa": 0.5}},
     r"optim.alfa: unknown key; valid keys here: name, lr_g, .*, alpha, beta1, .*momentum"),
    ({"optim": {"name": "rmsprp"}},
     r"optim.name: unknown value 'rmsprp'; choose from: .*past_extra_sgd, rmsprop, sgd"),
    ({"stabilizers": [{"name": "logit_penalty", "weight": -1}]},
     r"stabilizers\[0\].weight: -1.0 is below the minimum 0.0"),
    ({"stabilizers": [{"name": "latent_nrm"}]},
     r"stabilizers\[0\].name: unknown value 'latent_nrm'; choose from: .*instance_noise, "
     r"label_smoothing, latent_norm, logit_penalty, spectral_norm"),
    ({"data": {"dataset": "stripe"}},
     r"data.dataset: unknown value 'stripe'; choose from: .*mnist, ring8, stripes, svhn"),
    ({"data": {"image_size": 20}}, r"data.image_size: unknown value 20; choose from: 16, 28, 32, 64"),
])
def test_a_bad_plugin_value_is_one_line_through_the_cli(plugins, grid_file, tmp_path, capsys,
                                                        base, message) -> None:
    grid = grid_file("bad", base)
    code = run_main(["--grid", str(grid), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert re.match(f"^error: {message}$", err[0]), err[0]
    assert not (tmp_path / "m.db").exists()  # nothing half-written


def test_without_the_plugins_their_names_are_unknown(grid_file) -> None:
    from benchmark.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^data.dataset: unknown value 'stripes'"):
        load_grid(grid_file("unplugged"))


@pytest.mark.slow
def test_plugins_train_into_mlflow_and_reach_the_report(plugins, grid_file, run_grid,
                                                        build_report, store: Path) -> None:
    plain = {"optim.name": "adam", "stabilizers": []}
    grid = grid_file("plugged", PLUGGED, runs=[{"optim.alpha": 0.5}, plain])
    assert run_grid(grid) == 0
    client = mlflow.MlflowClient(f"sqlite:///{store}/mlflow.db")
    experiment = client.get_experiment_by_name("plugged").experiment_id
    runs = [r for r in client.search_runs([experiment])
            if r.data.tags.get("alibench.kind") == "run"]
    by_name = {r.data.params["optim.name"]: r for r in runs}
    assert set(by_name) == {"rmsprop", "adam"}
    assert all(r.data.tags["outcome"] == "finished" and "recon_mse" in r.data.metrics
               and r.data.params["data.dataset"] == "stripes" for r in runs)
    plugged = by_name["rmsprop"]
    assert plugged.data.params["optim.alpha"] == "0.5" and "optim.alpha" not in by_name[
        "adam"].data.params  # an option enters only the runs of optimizers that take it
    assert plugged.data.tags["stabilizers"] == "logit_penalty+latent_norm"
    assert plugged.info.run_name == ("stripes-rmsprop-alternating-alpha0.5-"
                                     "logit_penalty(weight=0.5)+latent_norm-lr0.001_0.001-s0")

    report = build_report("plugged")
    readme = (report / "README.md").read_text()
    page = (report / "index.html").read_text()
    for text in ("rmsprop", "logit_penalty(weight=0.5)+latent_norm", "optim.alpha",
                 "dataset: stripes; image size: 16"):
        assert text in readme and text in page, text
