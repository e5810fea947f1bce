"""Grid loading: expansion, run keys, and one clear line for every config mistake."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmark.config import config_key, expand_grid, load_grid, run_key
from benchmark.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _grid(**extra):
    raw = {"name": "t", "base": {"data": {"dataset": "digits"}, "train": {"steps": 5}}}
    raw.update(extra)
    return raw


def test_axes_expand_to_the_cartesian_product():
    grid = expand_grid(_grid(axes={"seed": [0, 1, 2], "optim.lr_g": [1e-4, 1e-3]}))
    assert len(grid.runs) == 6
    assert {(r.seed, r.optim.lr_g) for r in grid.runs} == {
        (s, lr) for s in (0, 1, 2) for lr in (1e-4, 1e-3)}
    assert len({run_key(r) for r in grid.runs}) == 6
    assert len({config_key(r) for r in grid.runs}) == 2


def test_explicit_runs_and_exclude_rules():
    grid = expand_grid(_grid(
        runs=[{"optim.name": "adam", "scheme.name": "alternating"},
              {"optim": {"name": "extra_adam"}, "scheme": {"name": "extragradient"}}],
        axes={"seed": [0, 1]},
        exclude=[{"optim.name": "extra_adam", "seed": 1}]))
    assert [(r.optim.name, r.seed) for r in grid.runs] == [
        ("adam", 0), ("adam", 1), ("extra_adam", 0)]


def test_run_key_ignores_where_the_data_lives_but_not_the_numbers():
    a = expand_grid(_grid()).runs[0]
    b = expand_grid(_grid(), overrides={"data.data_root": "/elsewhere"}).runs[0]
    c = expand_grid(_grid(), overrides={"optim.lr_g": 1e-3}).runs[0]
    assert run_key(a) == run_key(b) != run_key(c)


BAD_GRIDS = [
    ({"base": {"optim": {"lr_gg": 1}}}, r"^optim\.lr_gg: unknown key"),
    ({"base": {"train": {"steps": "many"}}}, r"^train\.steps: expected int, got 'many'"),
    ({"base": {"data": {"dataset": "mnits"}}},
     r"^data\.dataset: unknown value 'mnits'; choose from: .*mnist"),
    ({"base": {"optim": {"lr_d": -0.1}}}, r"^optim\.lr_d: -0\.1 must be greater than 0"),
    ({"base": {"optim": {"name": "adam"}, "scheme": {"name": "extragradient"}}},
     r"^optim\.name: 'adam' does not fit scheme\.name 'extragradient'; choose from: .*extra_adam"),
    ({"axes": {"seed": []}}, r"^axes\.seed: expected a non-empty list"),
    ({"colour": "red"}, r"^colour: unknown grid key"),
    ({"base": {"stabilizers": [{"name": "magic"}]}}, r"^stabilizers\[0\]\.name: unknown stabilizer 'magic'"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_GRIDS)
def test_config_mistakes_name_the_field(extra, message):
    raw = _grid()
    for key, value in extra.items():
        raw[key] = value if key != "base" else {**raw["base"], **value}
    with pytest.raises(ConfigError, match=message):
        expand_grid(raw)


@pytest.mark.parametrize(("extra", "message"), BAD_GRIDS[:4])
def test_cli_prints_one_line_and_creates_nothing(tmp_path, extra, message):
    raw = _grid()
    raw["base"] = {**raw["base"], **extra["base"]}
    grid_file = tmp_path / "bad.yaml"
    grid_file.write_text(yaml.safe_dump(raw))
    db = tmp_path / "store" / "mlflow.db"
    out = subprocess.run(
        [sys.executable, "-m", "benchmark.run", "--grid", str(grid_file),
         "--tracking-uri", f"sqlite:///{db}"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr
    assert not db.exists() and not (tmp_path / "runs").exists()


def test_yaml_syntax_error_names_the_line(tmp_path):
    bad = tmp_path / "g.yaml"
    bad.write_text("name: x\nbase: {data: [\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_grid(bad)


def test_shipped_grids_validate():
    for path in sorted((ROOT / "grids").glob("*.yaml")):
        grid = load_grid(path, {"data.data_root": "/nonexistent"})
        assert grid.runs, path
