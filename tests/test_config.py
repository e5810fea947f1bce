"""Grid loading: expansion, run keys, and one clear line for every config mistake."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmark.errors import ConfigError
from benchmark.grid import expand_grid, load_grid, parse_set
from benchmark.run_config import config_key, flat_params, run_key, run_name

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
    ({"base": {"stabilizers": [{"name": "magic"}]}}, r"^stabilizers\[0\]\.name: unknown value 'magic'"),
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


# --- everyday number spellings ----------------------------------------------------------------

SPELLINGS = {"1e-3": 1e-3, "5E-5": 5e-5, "1.0e-3": 1e-3, ".5": 0.5, "2e+1": 20.0, "1.0e3": 1e3}


def test_everyday_float_spellings_are_floats_in_a_grid_file(tmp_path):
    """YAML 1.1 keeps `1e-3` and `5E-5` strings; the grid loader reads them as numbers, in
    `base`, in `runs` and in `axes` alike, and an int stays an int."""
    grid = tmp_path / "g.yaml"
    grid.write_text(
        "name: floats\n"
        "base: {data: {dataset: digits}, optim: {lr_g: 1e-3, lr_d: 5E-5}, train: {steps: 7}}\n"
        "runs:\n  - {}\n  - {optim.lr_g: 1.0e-3, model.dropout: .5}\n"
        "axes:\n  optim.beta1: [5e-1, 0.9]\n")
    runs = load_grid(grid).runs
    assert [(r.optim.lr_g, r.optim.lr_d, r.model.dropout, r.optim.options.beta1) for r in runs] == [
        (1e-3, 5e-5, 0.2, 0.5), (1e-3, 5e-5, 0.2, 0.9), (1e-3, 5e-5, 0.5, 0.5),
        (1e-3, 5e-5, 0.5, 0.9)]
    assert all(type(r.optim.lr_g) is float and type(r.train.steps) is int for r in runs)


@pytest.mark.parametrize("text", sorted(SPELLINGS))
def test_everyday_float_spellings_are_floats_in_set(text):
    overrides = parse_set([f"optim.lr_g={text}", "train.steps=7"])
    cfg = expand_grid(_grid(), overrides=overrides).runs[0]
    assert cfg.optim.lr_g == SPELLINGS[text] and type(cfg.optim.lr_g) is float
    assert cfg.train.steps == 7 and type(cfg.train.steps) is int


def test_set_with_an_exponent_runs_from_the_command_line(tmp_path, capsys):
    from benchmark import run

    grid = tmp_path / "g.yaml"
    raw = _grid()
    raw["base"]["eval"] = {"recon_count": 297}  # the default 500 exceeds the digits test split
    grid.write_text(yaml.safe_dump(raw))
    code = run.main(["--grid", str(grid), "--set", "optim.lr_g=1e-3", "--set", "optim.lr_d=5E-5",
                     "--dry-run", "--tracking-uri", f"sqlite:///{tmp_path}/none/mlflow.db"])
    assert code == 0 and "-lr0.001_5e-05-" in capsys.readouterr().out


def test_text_spelled_like_a_number_stays_text_where_text_is_read(tmp_path):
    """A folder or a grid named `1e3` keeps that name; a number field names the value as
    written; YAML elsewhere (yaml.safe_load) is untouched."""
    grid = tmp_path / "g.yaml"
    grid.write_text("name: 2e5\ndescription: 1E3\n"
                    "base: {data: {dataset: digits, data_root: 1e3}, eval: {metrics: [1e3]}}\n")
    with pytest.raises(ConfigError, match=r"^eval\.metrics(\[0\])?: unknown value '1e3'"):
        load_grid(grid)
    grid.write_text("name: 2e5\ndescription: 1E3\nbase: {data: {dataset: digits, data_root: 1e3}}\n")
    loaded = load_grid(grid)
    assert (loaded.name, loaded.description, loaded.runs[0].data.data_root) == ("2e5", "1E3", "1e3")
    cfg = expand_grid(_grid(), overrides=parse_set(["data.data_root=5e-1"])).runs[0]
    assert cfg.data.data_root == "5e-1"
    with pytest.raises(ConfigError, match=r"^train\.steps: expected int, got 1e3$"):
        expand_grid(_grid(), overrides=parse_set(["train.steps=1e3"]))
    assert yaml.safe_load("1e-3") == "1e-3"


# --- one run key per config ----------------------------------------------------------------------

NOISE_SPELLINGS = [
    "[{name: instance_noise}]",
    "[{name: instance_noise, std: 0.1, z_std: 0.0, schedule: linear, anneal_steps: 1000, "
    "decay_rate: 5.0}]",
    "[{name: instance_noise, std: 1e-1, z_std: 0, decay_rate: 5}]",
    "[{decay_rate: 5.0e+0, name: instance_noise, std: 1.0e-1}]",
]


def test_a_stabilizer_with_or_without_its_defaults_is_one_config(tmp_path):
    """Every spelling of one stabilizer: one run key, one param string, one run name; a grid
    listing them all as an axis is one run."""
    cfgs = []
    for i, stabilizers in enumerate(NOISE_SPELLINGS):
        grid = tmp_path / f"g{i}.yaml"
        grid.write_text(f"name: keys\nbase: {{data: {{dataset: digits}}, stabilizers: {stabilizers}}}\n")
        cfgs.append(load_grid(grid).runs[0])
    assert len({run_key(c) for c in cfgs}) == 1
    assert len({config_key(c) for c in cfgs}) == 1
    assert {flat_params(c)["stabilizers"] for c in cfgs} == {"instance_noise"}
    assert len({run_name(c) for c in cfgs}) == 1
    assert cfgs[0].stabilizers == [{"name": "instance_noise", "std": 0.1, "z_std": 0.0,
                                    "schedule": "linear", "anneal_steps": 1000,
                                    "decay_rate": 5.0}]
    grid = tmp_path / "axis.yaml"
    grid.write_text("name: keys\nbase: {data: {dataset: digits}}\n"
                    f"axes:\n  stabilizers: [{', '.join(NOISE_SPELLINGS)}]\n")
    assert len(load_grid(grid).runs) == 1


def test_a_lr_spelled_two_ways_is_one_run_key(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text("name: keys\nbase: {data: {dataset: digits}}\n"
                    "axes: {optim.lr_g: [0.001, 1.0e-3, 1e-3, 1E-3]}\n")
    assert len(load_grid(grid).runs) == 1


def test_the_stabilizers_param_shows_the_options_that_differ_from_the_defaults():
    cfg = expand_grid(_grid(), overrides={"stabilizers": [
        {"name": "instance_noise", "std": 0.1, "anneal_steps": 300},
        {"name": "label_smoothing", "alpha": 0.1, "two_sided": True}]}).runs[0]
    assert flat_params(cfg)["stabilizers"] == (
        "instance_noise(anneal_steps=300)+label_smoothing(two_sided=True)")
    assert run_name(cfg).endswith("-instance_noise(anneal_steps=300)+label_smoothing"
                                  "(two_sided=True)-lr0.0002_0.0001-s0")


def test_config_names_tell_apart_discriminator_steps_and_stabilizer_options(tmp_path):
    """The optimizer study's alternating Adam with 1 and 5 D steps, and the screen's cycle
    weights, once shared a name (and an MLflow group)."""
    grid = tmp_path / "g.yaml"
    grid.write_text("name: names\nbase: {data: {dataset: digits}}\nruns:\n"
                    "  - {scheme.name: alternating}\n"
                    "  - {scheme.name: alternating, scheme.d_steps: 5}\n"
                    "  - {stabilizers: [{name: cycle_consistency, weight: 10.0}]}\n"
                    "  - {stabilizers: [{name: cycle_consistency, weight: 100.0}]}\n")
    names = [run_name(c) for c in load_grid(grid).runs]
    assert len(set(names)) == 4, names
    assert "-alternating-d5-" in names[1] and "-alternating-none-" in names[0]
    assert "-cycle_consistency(weight=100.0)-" in names[3]


# --- exclude rules ---------------------------------------------------------------------------------


def test_exclude_rules_match_whatever_spelling_either_side_used(tmp_path):
    """A rule is read like a config: `1e-3` matches a run written 0.001, a stabilizer rule
    without options matches the same stabilizer with its defaults written out, and a rule may
    name a value that comes from `base`."""
    grid = tmp_path / "g.yaml"
    grid.write_text(
        "name: ex\nbase: {data: {dataset: digits}, scheme: {d_steps: 2}}\n"
        "axes:\n"
        "  optim.lr_g: [0.001, 0.0002]\n"
        "  stabilizers: [[], [{name: instance_noise, std: 0.1, schedule: linear}]]\n"
        "exclude:\n"
        "  - {optim.lr_g: 1e-3, stabilizers: [{name: instance_noise}]}\n"
        "  - {optim: {lr_g: 2.0e-4}, scheme.d_steps: 2, stabilizers: []}\n")
    left = [(r.optim.lr_g, bool(r.stabilizers)) for r in load_grid(grid).runs]
    assert left == [(0.001, False), (0.0002, True)]


@pytest.mark.parametrize(("rule", "message"), [
    ({"optim.bogus": 1}, r"^exclude\[0\]\.optim\.bogus: unknown key; valid keys here: name, lr_g"),
    ({"bogus": 1}, r"^exclude\[0\]\.bogus: unknown key; valid keys here: seed, .*stabilizers"),
    ({"optim": {"lr_gg": 1e-3}}, r"^exclude\[0\]\.optim\.lr_gg: unknown key"),
    ({"optim.name": "adma"}, r"^exclude\[0\]\.optim\.name: unknown value 'adma'; choose from"),
    ({"stabilizers": [{"name": "instance_noise", "sigma": 1}]},
     r"^exclude\[0\]\.stabilizers\[0\]\.sigma: unknown key; valid keys here: std"),
])
def test_an_exclude_rule_no_config_can_match_is_refused(rule, message):
    with pytest.raises(ConfigError, match=message):
        expand_grid(_grid(axes={"seed": [0, 1]}, exclude=[rule]))
