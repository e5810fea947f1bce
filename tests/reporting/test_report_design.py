"""The comparison design: a grid's `reference`, `compare` and `effects`, read like an exclude
rule, resolved to one config, recorded as run tags; one line for every mistake."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from benchmark.errors import ConfigError
from benchmark.grid import expand_grid
from benchmark.grid_yaml import GridLoader
from benchmark.reporting.design import (
    Candidate,
    Design,
    from_tags,
    parse_reference_args,
    pick_reference,
)
from benchmark.run_config import config_key

AXES = {"seed": [0, 1], "optim.lr_g": [1e-4, 1e-3],
        "stabilizers": [[], [{"name": "cycle_consistency", "weight": 100.0}]]}


def _grid(**extra):
    raw = {"name": "t", "base": {"data": {"dataset": "digits"}, "train": {"steps": 5}},
           "axes": AXES}
    raw.update(extra)
    return raw


def test_the_reference_is_the_config_key_of_the_one_config_it_names() -> None:
    rule = yaml.load("{optim.lr_g: 1e-3, stabilizers: []}", Loader=GridLoader)  # as in a file
    grid = expand_grid(_grid(reference=rule))
    [cfg] = {config_key(r): r for r in grid.runs if r.optim.lr_g == 1e-3
             and not r.stabilizers}.values()
    assert grid.design.reference_key == config_key(cfg)
    assert grid.design.compare == "reference" and grid.design.effects == {}
    tags = grid.design.tags()
    assert tags == {"alibench.reference_config": config_key(cfg),
                    "alibench.compare": "reference"}
    assert from_tags([tags, tags, {}]) == Design(config_key(cfg))
    nested = expand_grid(_grid(reference={"optim": {"lr_g": 0.001}, "stabilizers": []}))
    assert nested.design == grid.design  # spelled either way, one config


def test_compare_all_and_effects() -> None:
    grid = expand_grid(_grid(compare="all", effects={"recon_mse": 0.005, "fid_classifier": 5}))
    assert grid.design == Design(None, {}, "all", {"recon_mse": 0.005, "fid_classifier": 5.0})
    assert from_tags([grid.design.tags()]) == grid.design
    assert expand_grid(_grid()).design == Design()


BAD = [
    ({"reference": {"optim.lr_g": 0.5}},
     r"^reference: optim\.lr_g=0\.5 matches no config of the grid; its configs have "
     r"optim\.lr_g: 0\.0001, 0\.001$"),
    ({"reference": {"optim.lr_g": 1e-3}},
     r"^reference: optim\.lr_g=0\.001 matches 2 configs \(.*\); add keys to pick one$"),
    ({"reference": {"optim.bogus": 1}}, r"^reference\.optim.*bogus"),
    ({"reference": {"optim.lr_g": "fast"}}, r"^reference\.optim\.lr_g.*'fast'"),
    ({"reference": "adam"}, r"^reference: expected a mapping of dotted key -> value"),
    ({"reference": {}}, r"^reference: expected a mapping"),
    ({"compare": "some"}, r"^compare: unknown value 'some'; choose from: all, reference$"),
    ({"effects": {"recon": 1}}, r"^effects: 'recon' is not a declared metric key; declared: "
                                r"fid_\*, .*, recon_mse$"),
    ({"effects": {"recon_mse": -1}}, r"^effects\.recon_mse: expected a finite number > 0, "
                                     r"got -1$"),
    ({"effects": [1]}, r"^effects: expected a mapping of metric key"),
]


@pytest.mark.parametrize("extra, message", BAD)
def test_a_bad_design_is_one_line_naming_field_value_and_choices(extra, message) -> None:
    with pytest.raises(ConfigError) as err:
        expand_grid(_grid(**extra))
    assert re.search(message, str(err.value)), str(err.value)
    assert "\n" not in str(err.value)


def test_the_report_matches_a_command_line_reference_on_params_as_logged() -> None:
    candidates = [Candidate("C1", "adam", "k1", {"optim.name": "adam", "optim.lr_g": "0.001"}),
                  Candidate("C2", "sgd", "k2", {"optim.name": "sgd", "optim.lr_g": "0.001"})]
    where = parse_reference_args(["optim.name=sgd", "optim.lr_g=1e-3"])  # 1e-3 is 0.001
    assert pick_reference(Design(reference_where=where), candidates) == "C2"
    assert pick_reference(Design("k1"), candidates) == "C1"
    assert pick_reference(Design(), candidates) is None
    with pytest.raises(ConfigError, match=r"^reference: config_key k9 matches no config"):
        pick_reference(Design("k9"), candidates)
    with pytest.raises(ConfigError, match=r"^--reference: expected param=value, got 'adam'$"):
        parse_reference_args(["adam"])
    with pytest.raises(ConfigError, match=r"designs \(reference configs k1, k2\)"):
        from_tags([Design("k1").tags(), Design("k2").tags()])


def test_the_run_cli_refuses_a_bad_reference_before_anything_runs(tmp_path) -> None:
    grid = tmp_path / "g.yaml"
    grid.write_text("name: g\nbase: {data: {dataset: digits}}\naxes: {seed: [0, 1]}\n"
                    "reference: {optim.name: sgd}\n")
    done = subprocess.run([sys.executable, "-m", "benchmark.run", "--grid", str(grid),
                           "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--dry-run"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.startswith("error: reference: optim.name='sgd' matches no config of the "
                                  "grid; its configs have optim.name: 'adam'")
    assert not (tmp_path / "m.db").exists()


def test_the_headline_is_a_declared_metric_recorded_with_the_design() -> None:
    grid = expand_grid(_grid(headline="fid_classifier"))
    assert grid.design == Design(headline="fid_classifier")
    assert grid.design.tags()["alibench.headline"] == "fid_classifier"
    assert from_tags([grid.design.tags()]) == grid.design
    assert Design.from_json(grid.design.to_json()) == grid.design
    assert "headline" not in Design().to_json()  # runs.parquet without one reads as before
    with pytest.raises(ConfigError, match=r"^headline: 'recon' is not a declared metric key; "
                                          r"declared: fid_\*, .*recon_mse"):
        expand_grid(_grid(headline="recon"))
