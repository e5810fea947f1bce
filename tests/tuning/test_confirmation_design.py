"""The confirmation grid carries the tune grid's comparison design, so the report of the
confirmation compares each tuned config with the tuned reference, and the runner accepts it."""

from __future__ import annotations

from pathlib import Path

import optuna
import yaml

from benchmark.grid import expand_grid
from benchmark.grid_yaml import GridLoader
from benchmark.tuning.outputs import confirmation_grid
from benchmark.tuning.search import parse_tune_grid

SMOKE = Path(__file__).resolve().parents[2] / "grids" / "tune" / "smoke.yaml"


def smoke_raw() -> dict:
    return yaml.load(SMOKE.read_text(), Loader=GridLoader)


def finished_studies(tune) -> dict:
    """One real in-memory Optuna study per config, each with one finished trial."""
    studies = {}
    for i, config in enumerate(tune.configs):
        study = optuna.create_study(direction="minimize")
        trial = study.ask({p.key: optuna.distributions.FloatDistribution(*p.args, log=True)
                           for p in tune.search.params})
        study.tell(trial, 0.1 * (i + 1))
        studies[config.key] = study
    return studies


def test_reference_and_compare_reach_the_confirmation_grid_and_resolve() -> None:
    raw = smoke_raw()
    raw["reference"] = {"stabilizers": []}
    raw["compare"] = "all"
    tune = parse_tune_grid(raw)
    grid = confirmation_grid(tune, finished_studies(tune))
    assert grid["reference"] == {"stabilizers": []} and grid["compare"] == "all"
    text = yaml.safe_dump(grid)
    expanded = expand_grid(yaml.load(text, Loader=GridLoader), "confirm.yaml")
    assert expanded.design.reference_key is not None  # matches exactly one tuned config
    assert len(expanded.runs) == len(tune.configs) * len(tune.search.confirm_seeds)


def test_no_design_in_the_tune_grid_means_none_in_the_confirmation() -> None:
    tune = parse_tune_grid(smoke_raw())
    assert "reference" not in confirmation_grid(tune, finished_studies(tune))
