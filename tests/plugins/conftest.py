"""The plug-ins of `extensions.py` registered for one test and removed after it, and the real
paths a plug-in must flow through: a grid file, `python -m benchmark.run`'s code path into a
real MLflow sqlite store under tmp_path, and `python -m benchmark.report`'s code path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from benchmark.validation import merge

# A run of a few seconds on the in-memory `stripes` plug-in dataset, at its own 16 px size.
PLUGIN_BASE = {
    "data": {"dataset": "stripes", "image_size": 16, "batch_size": 20},
    "model": {"z_dim": 8, "width": 0.125},
    "train": {"steps": 6, "log_every": 2, "eval_every": 3, "checkpoint_every": 3},
    "eval": {"metrics": ["recon_mse"], "recon_count": 30},
}


@pytest.fixture
def plugins() -> Iterator[ModuleType]:
    """Every plug-in of `extensions.py` registered, as a plug-in module would at import."""
    import extensions

    extensions.register()
    try:
        yield extensions
    finally:
        extensions.unregister()


def write_grid(path: Path, name: str, base: dict | None = None, **rest) -> Path:
    """A grid file: PLUGIN_BASE merged with `base`, plus axes/runs/exclude as given."""
    raw = {"name": name, "base": merge(PLUGIN_BASE, base or {}), **rest}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def grid_file(tmp_path: Path) -> Callable[..., Path]:
    """`grid_file(name, base=..., axes=...)`: a grid file under tmp_path."""
    return lambda name, base=None, **rest: write_grid(tmp_path / f"{name}.yaml", name, base,
                                                      **rest)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """The folder of a real MLflow sqlite store (and checkpoints), empty until a grid runs."""
    folder = tmp_path / "store"
    folder.mkdir()
    return folder


@pytest.fixture
def run_grid(store: Path) -> Callable[[Path], int]:
    """`run_grid(grid)`: `python -m benchmark.run --grid grid` in this process (so the
    plug-ins registered here are the ones it sees), into `store`; returns the exit code."""
    from benchmark.run import main

    return lambda grid: main(["--grid", str(grid), "--tracking-uri",
                              f"sqlite:///{store}/mlflow.db", "--checkpoint-dir",
                              str(store / "ckpt"), "--threads", "1"])


@pytest.fixture
def build_report(store: Path) -> Callable[[str], Path]:
    """`build_report(experiment)`: `python -m benchmark.report` on `store`; the report folder
    (asserting it exited 0)."""
    from benchmark.report import main

    def build(experiment: str) -> Path:
        out = store / "reports" / experiment
        assert main(["--experiment", experiment, "--tracking-uri",
                     f"sqlite:///{store}/mlflow.db", "--out", str(out)]) == 0
        return out

    return build
