"""A tune grid's `search:` section: every mistake is one line naming field, value and choices,
found before anything runs; everyday spellings (1e-3) are valid."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from benchmark.errors import ConfigError
from benchmark.grid_yaml import GridLoader
from benchmark.tune import main
from benchmark.tuning.search import load_tune_grid, parse_tune_grid

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "grids" / "tune" / "smoke.yaml"


def smoke_raw() -> dict:
    return yaml.load(SMOKE.read_text(), Loader=GridLoader)


def with_search(**changes) -> dict:
    raw = copy.deepcopy(smoke_raw())
    for key, value in changes.items():
        if value is None:
            raw["search"].pop(key)
        else:
            raw["search"][key] = value
    return raw


def test_smoke_grid_reads_with_floats_as_written_and_direction_from_the_declaration():
    tune = load_tune_grid(SMOKE)
    assert len(tune.configs) == 2 and tune.search.trials == 4
    assert [p.args for p in tune.search.params] == [(1e-5, 1e-2), (1e-6, 1e-2)]
    assert all(type(a) is float for p in tune.search.params for a in p.args)
    assert tune.search.higher_is_better is False  # recon_mse: lower is better
    assert tune.search.pruner.rungs == (10, 20) and tune.search.pruner.reduction_factor == 2
    assert all(c.cfg.train.steps == 30 for c in tune.configs)
    assert len({c.label for c in tune.configs}) == 2
    assert all("lr" not in c.label.rsplit("-", 1)[-1] for c in tune.configs)


def test_knn_acc_objective_is_maximised():
    raw = with_search(objective="knn_acc")
    raw["base"]["eval"]["metrics"] = ["recon_mse", "knn"]
    raw["base"]["eval"]["knn_train_count"] = 200
    assert parse_tune_grid(raw).search.higher_is_better is True


BAD = [
    ({"params": {"optim.lr_g": {"loguniform": [1e-5, 1e-2]}}},
     r"search\.params\.optim\.lr_g: unknown value 'loguniform'; choose from: choice, int, "
     r"log_int, log_uniform, uniform"),
    ({"params": {"optim.lr_g": {"log_uniform": [1e-2, 1e-5]}}},
     r"search\.params\.optim\.lr_g\.log_uniform: low 0\.01 must be below high 1e-05"),
    ({"params": {"optim.lr_g": {"log_uniform": [0, 1e-2]}}}, r"a log range needs low > 0"),
    ({"params": {"optim.lr_g": {"uniform": ["a", 1]}}}, r"expected \[low, high\], two numbers"),
    ({"params": {"optim.bogus": {"uniform": [0.1, 0.2]}}}, r"search\.params\.optim\.bogus.*bogus"),
    ({"params": {"optim.lr_g": {"uniform": [-1.0, 0.1]}}},
     r"search\.params\.optim\.lr_g = -1\.0 in .*optim\.lr_g"),
    ({"params": {"scheme.name": {"choice": ["alternating", "sideways"]}}},
     r"search\.params\.scheme\.name = 'sideways'.*choose from"),
    ({"params": {"train.steps": {"int": [1, 5]}}}, r"search\.params\.train\.steps: not a "),
    ({"objective": "recon"}, r"search\.objective: unknown metric key 'recon'; choose from: .*"
                             r"recon_mse"),
    ({"objective": "fid_*"}, r"search\.objective: 'fid_\*' is not logged by config"),
    ({"budget": {"train.epochs": 3}},
     r"search\.budget: unknown key 'train\.epochs'; choose from: train\.steps, train\.grad_evals"),
    ({"budget": {"train.steps": 0}}, r"search\.budget\.train\.steps: expected a positive integer"),
    ({"trials": 0}, r"search\.trials: expected an integer of at least 1, got 0"),
    ({"trials": None}, r"search\.trials: required"),
    ({"pruner": {"name": "median"}},
     r"search\.pruner\.name: unknown value 'median'; choose from: none, successive_halving"),
    ({"pruner": {"name": "successive_halving", "rungs": [10, 25]}},
     r"search\.pruner\.rungs: \[10, 25\] are not rungs\[0\] \* 2\*\*k"),
    ({"pruner": {"name": "successive_halving", "rungs": [10]}},
     r"search\.pruner\.rungs: \[10\] stop early: successive halving also compares at 20"),
    ({"pruner": {"name": "successive_halving", "rungs": [15]}},
     r"search\.pruner\.rungs: \[15\] x reduction_factor 2 reaches the total 30 steps"),
    ({"pruner": {"name": "successive_halving", "rungs": [20, 40]}},
     r"search\.pruner\.rungs: 40 is not below a trial's total 30 steps"),
    ({"confirm_seeds": [0, 1, 2, 3, 4]}, r"search\.confirm_seeds: expected at least 5 seeds that "
                                         r"tuning never uses"),
    ({"confirm_seeds": [7, 8]}, r"search\.confirm_seeds: expected at least 5"),
    ({"seeds": [0, 0]}, r"search\.seeds: expected a list of distinct seeds"),
    ({"parallel": 0}, r"search\.parallel: expected an integer of at least 1"),
    ({"speed": 3}, r"search\.speed: unknown key; valid keys: params, trials"),
]


@pytest.mark.parametrize(("changes", "message"), BAD, ids=[str(c) for c, _ in BAD])
def test_bad_search_is_one_line_naming_field_value_and_choices(changes, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_tune_grid(with_search(**changes))
    assert "\n" not in str(err.value)


def test_a_seed_axis_is_refused():
    raw = smoke_raw()
    raw["axes"]["seed"] = [0, 1]
    with pytest.raises(ConfigError, match=r"axes\.seed: a tune grid's seeds are search\.seeds"):
        parse_tune_grid(raw)


def test_cli_bad_grid_exits_2_with_one_line_and_creates_nothing(tmp_path, capsys):
    grid = tmp_path / "bad.yaml"
    grid.write_text(SMOKE.read_text().replace("trials: 4 ", "trials: -3 "))
    code = main(["--grid", str(grid), "--tracking-uri", f"sqlite:///{tmp_path}/m.db",
                 "--storage", f"sqlite:///{tmp_path}/o.db", "--checkpoint-dir",
                 str(tmp_path / "ckpt")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: search.trials: expected an integer of at least 1, got -3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize(("option", "message"), [
    (["--threads", "0"], "error: --threads: expected at least 1, got 0"),
    (["--workers", "0"], "error: --workers: expected at least 1, got 0")])
def test_cli_checks_the_runner_options_as_the_runner_does(tmp_path, capsys, option, message):
    code = main(["--grid", str(SMOKE), "--tracking-uri", f"sqlite:///{tmp_path}/m.db",
                 "--storage", f"sqlite:///{tmp_path}/o.db", "--checkpoint-dir",
                 str(tmp_path / "ckpt"), *option])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == message
    assert list(tmp_path.iterdir()) == []
