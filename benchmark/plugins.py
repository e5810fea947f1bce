"""Plug-in modules: imported by name before a grid is read, and again in every worker.

A plug-in registers its entries when imported (`OPTIMIZERS.register(...)` at module level), so
`--plugin my_lab.extensions` makes them valid in grids, run names, MLflow and the report, and the
runs of the `processes`, `ray` and `slurm` executors import the same modules before they train.
The module must be importable where the runs execute (installed, or on PYTHONPATH).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from benchmark.errors import ConfigError, first_line


def load_plugins(modules: Iterable[str]) -> None:
    """Import each module once (Python caches them); a failure is one line naming it."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as err:  # any error inside the plug-in is the plug-in's, named as such
            raise ConfigError(f"--plugin: cannot import {name!r}: {type(err).__name__}: "
                              f"{first_line(err)}") from None
