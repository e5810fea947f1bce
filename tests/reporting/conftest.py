"""Session fixtures: a real MLflow store with a logged experiment, and its report."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_store import GRID_YAML, Logged, log_experiment

from benchmark.report import main


@pytest.fixture(scope="session")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    return log_experiment(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(scope="session")
def report(logged: Logged, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the logged experiment, built through the CLI entry with --grid."""
    grid = logged.root / "repro.yaml"
    grid.write_text(GRID_YAML)
    out = tmp_path_factory.mktemp("report") / "repro"
    code = main(["--grid", str(grid), "--tracking-uri", logged.uri, "--out", str(out)])
    assert code == 0
    return out
