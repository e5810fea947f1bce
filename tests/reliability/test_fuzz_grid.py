"""Fuzzing the grid loader: whatever YAML a user writes, the only error is `ConfigError`.

Three generators: arbitrary YAML-able structures (what `yaml.safe_load` can return: nested
mappings with scalar keys, lists, strings, numbers including nan and inf, booleans, null,
dates), mutations of a valid grid (a leaf replaced, a key dropped, a key added, at any depth),
and random bytes written to a grid file. A crash of any other type is a bug in the loader: the
user would see a traceback instead of one line naming the field.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark.errors import ConfigError
from benchmark.grid import Grid, expand_grid, load_grid

# A valid grid touching every section, stabilizers with options, runs, axes, excludes and a
# published reference: the mutations start from here.
VALID = {
    "name": "fuzz",
    "description": "a valid grid to mutate",
    "base": {
        "seed": 0,
        "data": {"dataset": "digits", "image_size": 28, "batch_size": 50, "train_subset": 200},
        "model": {"z_dim": 8, "width": 0.125, "dropout": 0.2},
        "optim": {"name": "adam", "lr_g": 2e-4, "lr_d": 1e-4, "beta1": 0.5},
        "scheme": {"name": "alternating", "d_steps": 1},
        "stabilizers": [{"name": "instance_noise", "std": 0.1, "anneal_steps": 10},
                        {"name": "label_smoothing", "alpha": 0.1}],
        "train": {"steps": 10, "log_every": 2, "eval_every": 5, "checkpoint_every": 5},
        "eval": {"metrics": ["recon_mse", "fid"], "recon_count": 64, "fid_gen_count": 100,
                 "fid_real_count": 100, "kid_subset_size": 50},
    },
    "runs": [{"optim.name": "adam"},
             {"optim.name": "extra_adam", "scheme.name": "extragradient"}],
    "axes": {"seed": [0, 1], "optim.lr_g": [1e-4, 2e-4]},
    "exclude": [{"optim.name": "extra_adam", "seed": 1}],
    "references": [{"metric": "recon_mse", "mean": 0.05, "std": 0.01, "source": "here",
                    "settings": "tiny", "where": {"optim.name": "adam"}}],
}

# What safe_load yields for scalars, including the awkward ones: nan, inf, huge ints, dates.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.dates(),
    st.sampled_from(["digits", "mnist", "adam", "extra_adam", "extragradient", "alternating",
                     "instance_noise", "recon_mse", "fid", "modes", "seed", "optim.name",
                     "data.dataset", "name", "base", "axes", "runs", "exclude", ""]),
)
keys = st.one_of(
    st.sampled_from(["name", "base", "axes", "runs", "exclude", "references", "data", "optim",
                     "scheme", "stabilizers", "train", "eval", "model", "seed", "steps",
                     "optim.name", "data.dataset", "train.steps", "metrics", "lr_g", "std"]),
    st.text(max_size=8), st.integers(-3, 3), st.booleans(), st.none(), st.floats(),
)
structures = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(keys, children, max_size=4)),
    max_leaves=20,
)

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _expand(raw: Any) -> None:
    """The property: a Grid, or a ConfigError with one line; nothing else."""
    try:
        grid = expand_grid(raw)
    except ConfigError as err:
        message = str(err)
        assert message and "\n" not in message, repr(message)
        return
    assert isinstance(grid, Grid) and grid.runs


@FUZZ
@given(structures)
def test_arbitrary_structures_only_raise_config_errors(raw):
    _expand(raw)


@FUZZ
@given(st.dictionaries(st.sampled_from(["name", "base", "axes", "runs", "exclude",
                                        "references", "description"]), structures, max_size=5))
def test_arbitrary_grid_sections_only_raise_config_errors(raw):
    _expand({"name": "fuzz", **raw})


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node of a nested dict/list structure (the root excluded)."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list) else []
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _parent(root: Any, path: tuple) -> Any:
    for key in path[:-1]:
        root = root[key]
    return root


@st.composite
def mutated_grids(draw) -> dict:
    """The valid grid after 1-3 mutations: replace a node, drop a key, add a key."""
    raw = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(raw)[::-1]  # deep leaves first: hypothesis favours early choices
        path = draw(st.sampled_from(paths))
        parent = _parent(raw, path)
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(structures)
        elif action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "drop":
            parent.pop(path[-1])
        else:
            target = parent[path[-1]]
            if isinstance(target, dict):
                target[draw(keys)] = draw(structures)
            elif isinstance(target, list):
                target.append(draw(structures))
            else:
                parent[path[-1]] = draw(structures)
    return raw


@FUZZ
@given(mutated_grids())
def test_mutated_valid_grids_only_raise_config_errors(raw):
    _expand(raw)


def test_the_unmutated_grid_is_valid():
    grid = expand_grid(copy.deepcopy(VALID))
    assert len(grid.runs) == 6  # 2 runs x 2 seeds x 2 lr_g, minus extra_adam at seed 1


@settings(max_examples=200, deadline=None, database=None)
@given(st.one_of(st.binary(max_size=200),
                 st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
                 st.builds(lambda a, b: yaml.safe_dump(VALID).encode()[:a] + b,
                           st.integers(0, 800), st.binary(max_size=20))))
def test_random_bytes_in_a_grid_file_only_raise_config_errors(tmp_path_factory, data):
    path: Path = tmp_path_factory.mktemp("fuzz") / "grid.yaml"
    path.write_bytes(data)
    try:
        grid = load_grid(path)
    except ConfigError as err:
        assert "\n" not in str(err), repr(str(err))
        return
    assert isinstance(grid, Grid)


LAUGHS = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
                 for p, c in zip("abcdefgh", "bcdefghi", strict=True))

FOUND = [  # what fuzzing found: each crashed or hung the loader before it was fixed
    ({"name": "x", "base": {"stabilizers": [{"name": ["instance_noise"]}]}},
     r"^stabilizers\[0\]\.name: unknown value \['instance_noise'\]"),  # TypeError
    ({"name": "x", "base": {"optim": {"lr\nx": 1}}}, r"^optim\.'lr\\nx': unknown key"),  # 2 lines
    ({"name": "x", "axes": {"se\ted": 1}}, r"^axes\.'se\\ted': expected a non-empty list"),
]


@pytest.mark.parametrize(("raw", "pattern"), FOUND)
def test_what_fuzzing_found_is_one_config_error_line(raw, pattern):
    with pytest.raises(ConfigError, match=pattern) as caught:
        expand_grid(raw)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("text", "pattern"), [
    ("name: x\nexclude: [&r {k: *r}]\n", "a YAML alias refers to a value that contains it"),
    ("name: x\nbase: &r {data: *r}\n", "a YAML alias refers to a value that contains it"),
    ("a: &a [x, x, x, x, x, x, x, x, x]\n" + LAUGHS + "name: x\ndescription: *i\n",
     r"expands to \d+ values through YAML aliases"),
    ("name: x\nbase: " + "[" * 2000 + "]" * 2000 + "\n", "nested deeper than 50 levels"),
    ("name: x\nbase: " + "{a: " * 60 + "1" + "}" * 60 + "\n", "nested deeper than 50 levels"),
])
def test_hostile_yaml_is_refused(tmp_path, text, pattern):
    """Alias cycles (RecursionError), a 'billion laughs' (hours in str/repr) and deep nesting
    (RecursionError in the YAML composer) end in one line, refused before they are expanded."""
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=pattern):
        load_grid(path)


def test_a_billion_laughs_in_a_valid_place_is_refused():
    """The expansion check runs before any key is judged: here every key is a valid one."""
    text = ("name: x\nreferences: []\ndescription: &top [" + ", ".join(["*i"] * 10) + "]\n")
    raw = yaml.safe_load("a: &a [x, x, x, x, x, x, x, x, x]\n" + LAUGHS + text)
    del raw["a"]
    for c in "bcdefghi":
        raw.pop(c)
    with pytest.raises(ConfigError, match=r"^grid: expands to \d+ values through YAML aliases"):
        expand_grid(raw)
