"""Safety: a grid file and a checkpoint are data, never code, and the suggested MLflow UI is
reachable from this machine only.

A grid or a checkpoint may come from someone else (a shared grid, a copied runs/ folder), so
loading one must not be able to run anything: grids go through a safe YAML loader, checkpoints
through `torch.load(weights_only=True)`. Each check plants a payload whose only effect would be
to create a marker file, and asserts the file never appears.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
import torch
import yaml
from reliability_helpers import ROOT, assert_nothing_created, assert_one_error_line, run_main, store_args

from benchmark import checkpoint, report, run
from benchmark.errors import ConfigError
from benchmark.grid import load_grid
from benchmark.grid_yaml import GridLoader

SOURCES = sorted(p for folder in ("benchmark", "optim") for p in (ROOT / folder).rglob("*.py"))


def yaml_payload(marker: Path) -> str:
    """A grid whose loading with an unsafe YAML loader would create `marker`."""
    return (f"name: pwned\nbase:\n  seed: !!python/object/apply:os.system "
            f"[{'touch ' + shlex.quote(str(marker))!r}]\n")


def test_a_grid_with_a_python_tag_is_refused_and_runs_nothing(workdir, capsys):
    marker = workdir / "PWNED"
    grid = workdir / "grid.yaml"
    grid.write_text(yaml_payload(marker))
    # The payload is live: the unsafe loader runs it (this is what the suite must never do).
    yaml.unsafe_load(grid.read_text())
    assert marker.exists()
    marker.unlink()

    outcome = run_main(run.main, ["--grid", str(grid), *store_args(workdir)], capsys)
    assert_one_error_line(outcome, r"not valid YAML at line 3.*python/object/apply:os\.system")
    outcome = run_main(report.main, ["--grid", str(grid), "--out", str(workdir / "report")],
                       capsys)
    assert_one_error_line(outcome, r"^--grid: '.*grid\.yaml' is not valid YAML")
    outcome = run_main(run.main, ["--grid", str(ROOT / "grids" / "quickstart.yaml"), "--set",
                                  f"seed=!!python/object/apply:os.system ['touch {marker}']",
                                  *store_args(workdir)], capsys)
    assert_one_error_line(outcome, r"^--set seed: cannot parse the value")
    assert not marker.exists()
    assert_nothing_created(workdir)


def test_the_grid_loader_is_a_safe_loader(tmp_path):
    assert issubclass(GridLoader, yaml.SafeLoader)
    marker = tmp_path / "PWNED"
    with pytest.raises(yaml.constructor.ConstructorError, match="python/object/apply"):
        yaml.load(yaml_payload(marker), Loader=GridLoader)
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml_payload(marker))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_grid(grid)
    assert not marker.exists()


def _calls(path: Path, module: str, names: set[str]) -> list[ast.Call]:
    tree = ast.parse(path.read_text(), str(path))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr in names
            and isinstance(node.func.value, ast.Name) and node.func.value.id == module]


def test_every_yaml_read_in_the_package_is_safe():
    """No `yaml.load` without a safe Loader, no `unsafe_load`/`full_load` anywhere."""
    safe = {"SafeLoader", "CSafeLoader", "GridLoader"}
    found = 0
    for path in SOURCES:
        for call in _calls(path, "yaml", {"load", "load_all", "unsafe_load", "full_load",
                                          "unsafe_load_all", "full_load_all"}):
            loader = next((k.value for k in call.keywords if k.arg == "Loader"), None)
            name = getattr(loader, "id", None) or getattr(loader, "attr", None)
            assert call.func.attr in ("load", "load_all") and name in safe, (
                f"{path}:{call.lineno} reads YAML with {call.func.attr}(Loader={name})")
            found += 1
    assert found >= 1  # the grid loader itself


def test_every_torch_load_in_the_package_is_weights_only():
    found = 0
    for path in SOURCES:
        for call in _calls(path, "torch", {"load"}):
            flag = next((k.value for k in call.keywords if k.arg == "weights_only"), None)
            assert isinstance(flag, ast.Constant) and flag.value is True, (
                f"{path}:{call.lineno}: torch.load without weights_only=True")
            found += 1
    assert found >= 1  # checkpoint.load_latest


class Payload:
    """Unpickling this calls `Path.write_text(marker, ...)`: code run by merely loading."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.write_text, (self.marker, "pwned")


def test_a_checkpoint_that_would_run_code_is_refused_with_a_warning(tmp_path):
    folder, marker = tmp_path / "ckpt", tmp_path / "PWNED"
    checkpoint.save(folder, 4, {"w": torch.ones(3)})
    evil = folder / "step_000000008.pt"
    torch.save({"step": 8, "w": torch.zeros(3), "extra": Payload(marker)}, evil)
    # The payload is live: a full unpickle runs it.
    torch.load(evil, weights_only=False)
    assert marker.read_text() == "pwned"
    marker.unlink()

    with pytest.warns(UserWarning, match=r"step_000000008\.pt is unreadable .*Unpickl"):
        payload = checkpoint.load_latest(folder)
    assert payload["step"] == 4 and torch.equal(payload["w"], torch.ones(3))
    assert not marker.exists()

    (folder / "step_000000004.pt").unlink()
    with pytest.warns(UserWarning, match="unreadable"):
        assert checkpoint.load_latest(folder) is None  # nothing safe left: start from scratch
    assert not marker.exists()


def test_the_mlflow_ui_the_readme_suggests_listens_on_localhost_only():
    """`mlflow ui` without --host binds 127.0.0.1 today, but an explicit flag keeps a copied
    command safe whatever the default becomes; every suggestion in the README must carry it."""
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"mlflow ui\b[^`\n#]*", readme)  # up to a comment or a code span end
    assert commands, "README.md suggests no `mlflow ui` command"
    for command in commands:
        args = shlex.split(command)
        assert "--host" in args and args[args.index("--host") + 1] == "127.0.0.1", command
