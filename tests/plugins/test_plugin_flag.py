"""`--plugin MODULE`: a plug-in module imported by the grid process and by every worker, so
the `processes` executor trains plug-in runs too, and the report shows plug-in metrics."""

from __future__ import annotations

import sys
from pathlib import Path

import mlflow
import pytest

from benchmark.report import main as report_main
from benchmark.run import main as run_main

PLUGGED = {"optim": {"name": "rmsprop", "lr_g": 1e-3, "lr_d": 1e-3},
           "stabilizers": [{"name": "latent_norm"}]}
MODULE = "lab_plugins"


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A module that registers every plug-in of `extensions.py` when imported, as a lab's
    own module would; on sys.path, which spawned workers inherit."""
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text("import extensions\n\nextensions.register()\n")
    monkeypatch.syspath_prepend(str(folder))
    yield MODULE
    if MODULE in sys.modules:
        import extensions

        extensions.unregister()
        del sys.modules[MODULE]


def _args(grid: Path, store: Path, *extra: str) -> list[str]:
    return ["--grid", str(grid), "--tracking-uri", f"sqlite:///{store}/mlflow.db",
            "--checkpoint-dir", str(store / "ckpt"), *extra]


def test_without_the_flag_the_plugin_is_unknown_and_nothing_is_written(
        grid_file, store: Path, capsys) -> None:
    assert run_main(_args(grid_file("flagged", PLUGGED), store)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown value 'stripes'" in err[0], err
    assert not (store / "mlflow.db").exists()


def test_a_module_that_cannot_be_imported_is_one_line(grid_file, store: Path, capsys) -> None:
    assert run_main(_args(grid_file("flagged", PLUGGED), store, "--plugin", "no_such_lab")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --plugin: cannot import 'no_such_lab': ModuleNotFoundError: "
                   "No module named 'no_such_lab'"]
    assert not (store / "mlflow.db").exists()


@pytest.mark.slow
def test_process_workers_import_the_plugin_and_train_its_runs(
        plugin_module: str, grid_file, store: Path) -> None:
    grid = grid_file("flagged", PLUGGED, axes={"seed": [0, 1]})
    assert run_main(_args(grid, store, "--executor", "processes", "--workers", "2",
                          "--threads", "1", "--plugin", plugin_module)) == 0
    client = mlflow.MlflowClient(f"sqlite:///{store}/mlflow.db")
    experiment = client.get_experiment_by_name("flagged").experiment_id
    runs = [r for r in client.search_runs([experiment])
            if r.data.tags.get("alibench.kind") == "run"]
    assert len(runs) == 2
    assert all(r.data.tags["outcome"] == "finished" and r.data.params["optim.name"] == "rmsprop"
               and r.data.params["data.dataset"] == "stripes" for r in runs)
    out = store / "report"
    assert report_main(["--experiment", "flagged", "--tracking-uri",
                        f"sqlite:///{store}/mlflow.db", "--out", str(out),
                        "--plugin", plugin_module]) == 0
    assert "dataset: stripes; image size: 16" in (out / "README.md").read_text()
