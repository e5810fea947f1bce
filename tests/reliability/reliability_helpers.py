"""Shared pieces of the reliability tests: a tiny valid grid, the CLIs run in a fresh folder,
and the checks every user mistake must pass (one `error:` line, exit 2, nothing created).

A module of its own, not conftest.py: `from conftest import` would find whichever of the
suite's conftest modules was imported first."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from runner_helpers import TINY_CHECKPOINTED  # the smallest grid that trains and resumes

ROOT = Path(__file__).resolve().parents[2]


def tiny_grid(name: str = "tiny", **sections) -> dict:
    """The tiny grid with `base` sections merged in and top-level keys (axes, runs) added."""
    grid = {"name": name, "base": copy.deepcopy(TINY_CHECKPOINTED)}
    for key, value in sections.items():
        if key == "base":
            for section, options in value.items():
                if isinstance(options, dict) and isinstance(grid["base"].get(section), dict):
                    grid["base"][section].update(options)
                else:
                    grid["base"][section] = options
        else:
            grid[key] = value
    return grid


def write_grid(folder: Path, grid: dict | str | bytes, name: str = "grid.yaml") -> Path:
    path = folder / name
    if isinstance(grid, bytes):
        path.write_bytes(grid)
    else:
        path.write_text(grid if isinstance(grid, str) else yaml.safe_dump(grid))
    return path


def store_args(folder: Path) -> list[str]:
    """A tracking store and checkpoint folder that do not exist yet: a mistake must not create
    them."""
    return ["--tracking-uri", f"sqlite:///{folder}/store/mlflow.db",
            "--checkpoint-dir", str(folder / "ckpt")]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_main(main, argv: list[str], capsys) -> Outcome:
    """A CLI's `main` in this process; argparse mistakes exit through SystemExit."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return Outcome(code, out, err)


def run_cli(module: str, argv: list[str], cwd: Path) -> subprocess.Popen:
    """The CLI in a subprocess (started, not waited for): what a user's terminal sees."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", module, *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_one_error_line(outcome: Outcome, pattern: str, case: str = "") -> None:
    """Exit 2, one stderr line `error: <message>` matching `pattern`, no traceback."""
    assert "Traceback" not in outcome.stderr + outcome.stdout, f"{case}: {outcome.stderr}"
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, f"{case}: expected one line on stderr, got {outcome.stderr!r}"
    assert lines[0].startswith("error: "), f"{case}: {lines[0]!r}"
    assert re.search(pattern, lines[0][len("error: "):]), (
        f"{case}: {lines[0]!r} does not match {pattern!r}")
    assert outcome.code == 2, f"{case}: exit code {outcome.code}"


def assert_nothing_created(folder: Path, case: str = "") -> None:
    """No tracking store, no default `runs/` folder, no checkpoints, no report."""
    for name in ("store", "runs", "ckpt", "reports", "report"):
        assert not (folder / name).exists(), f"{case}: {folder / name} was created"
