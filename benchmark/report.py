"""Turn an experiment's runs into a report, without training again: from MLflow, or from the
runs.parquet an earlier report wrote beside its summary.csv (no store needed).

    python -m benchmark.report --experiment sem_vs_sgd
    python -m benchmark.report --grid grids/mixture25.yaml          # name, references, design
    python -m benchmark.report --experiment x --tracking-uri sqlite:///runs/mlflow.db \\
        --out reports/x/ --test welch --reference optim.name=adam
    python -m benchmark.report --runs results/x/runs.parquet --out /tmp/x
    python -m benchmark.report --runs results/x/runs.parquet --grid grids/x.yaml --out /tmp/x

Writes summary.csv/.md, comparisons.csv/.md, runs.parquet, plots/, panels/, index.html and
README.md. User mistakes print one line `error: ...`, exit 2 and write nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.errors import AlibenchError, ConfigError, OneLineParser
from benchmark.grid_yaml import read_grid_file
from benchmark.plugins import load_plugins
from benchmark.reporting.design import (
    PAIRINGS,
    Design,
    parse_compare,
    parse_effects,
    parse_headline,
    parse_reference_args,
)
from benchmark.reporting.references import Reference, parse_references
from benchmark.tracking import DEFAULT_TRACKING_URI

if TYPE_CHECKING:
    from benchmark.reporting.loading import ExperimentRuns, RunStore


def read_grid(path: str) -> tuple[str, list[Reference]]:
    """Only the experiment name and the published references of a grid file, read by the
    runner's own reader (`read_grid_file`: its YAML dialect, its messages), without expanding
    the runs (no torch): a `where: {optim.lr_g: 1e-3}` is the number 0.001 here too."""
    raw = read_grid_file(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"--grid: {path!r} must be a mapping with a 'name', got "
                          f"{type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"--grid: {path!r} has no 'name' (the experiment name), got {name!r}")
    return name, parse_references(raw.get("references"))


def grid_design(path: str) -> Design | None:
    """The grid's comparison design (None when it states none). A `reference:` is resolved by
    expanding the grid as the runner does (this loads torch), so it names the same config."""
    raw = read_grid_file(path)
    if not any(k in raw for k in ("reference", "compare", "effects", "headline")):
        return None
    if "reference" in raw:
        from benchmark.grid import load_grid

        return load_grid(path).design
    return Design(compare=parse_compare(raw.get("compare")),
                  effects=parse_effects(raw.get("effects")),
                  headline=parse_headline(raw.get("headline")))


def check_out(out: Path) -> None:
    """Refuse an --out the report cannot be written into before anything is loaded or drawn."""
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"--out: cannot write a report into {str(out)!r}: {str(existing)!r} "
                          "is not a writable folder")


def parser() -> argparse.ArgumentParser:
    from benchmark.reporting.significance import TESTS

    p = OneLineParser(prog="python -m benchmark.report", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--experiment", help="MLflow experiment name (the grid's name)")
    which.add_argument("--runs", metavar="FILE", help="runs.parquet of an earlier report: "
                       "rebuild the report from it, with no MLflow store")
    p.add_argument("--grid", help="grid YAML: takes its name, published references and "
                   "comparison design (reference, compare, effects); alone (runs from the "
                   "store) or with --runs (runs from the file)")
    p.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI,
                   help=f"MLflow tracking URI (default: {DEFAULT_TRACKING_URI})")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import this module first, so its metrics' columns are shown; repeatable")
    p.add_argument("--out", help="report folder (default: reports/<experiment>/)")
    p.add_argument("--test", default="mannwhitney", choices=sorted(TESTS),
                   help="test of each comparison (default: mannwhitney, exact)")
    p.add_argument("--reference", action="append", default=[], metavar="PARAM=VALUE",
                   help="the reference config by its params as logged (optim.name=adam); "
                   "repeatable; overrides the grid's and the runs' own")
    p.add_argument("--compare", choices=PAIRINGS.names(),
                   help="which pairs: every config against the reference (default) or all")
    p.add_argument("--headline", metavar="KEY",
                   help="the metric the curves follow (default: the grid's `headline:`, else "
                   "recon_mse); any declared metric key, e.g. fid_classifier")
    return p


def load(args: argparse.Namespace
         ) -> tuple[ExperimentRuns, Design, list[Reference], RunStore | None]:
    """The runs, the comparison design, the published references and the store (None when
    the runs come from a file), in the order of precedence: command line, grid, file, tags."""
    from benchmark.reporting import plots, runs_file
    from benchmark.reporting.design import from_tags
    from benchmark.reporting.loading import RunStore

    name, references = read_grid(args.grid) if args.grid else (args.experiment, [])
    design = grid_design(args.grid) if args.grid else None
    store = None
    if args.runs:
        data, stored_design = runs_file.read(Path(args.runs), plots.wants_history)
        if args.grid and name != data.name:
            raise ConfigError(f"--grid: {args.grid!r} is grid {name!r} but --runs "
                              f"{args.runs!r} holds experiment {data.name!r}; give the grid "
                              "that produced those runs")
        design = design or stored_design
    else:
        store = RunStore(args.tracking_uri)
        data = store.load(name, plots.wants_history)  # every user mistake is raised by here
        if design is None:
            design = from_tags([run.tags for run in data.records])
    design = design or Design()
    if args.reference:
        design = replace(design, reference_key=None,
                         reference_where=parse_reference_args(args.reference))
    if args.compare:
        design = replace(design, compare=args.compare)
    if args.headline:
        design = replace(design, headline=parse_headline(args.headline, "--headline"))
    return data, design, references, store


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if not (args.experiment or args.grid or args.runs):
        cli.error("one of the arguments --experiment --grid --runs is required")
    if args.experiment and args.grid:
        cli.error("argument --grid: not allowed with argument --experiment (the grid names "
                  "the experiment)")
    try:
        load_plugins(args.plugin)
        if args.out:
            check_out(Path(args.out))
        from benchmark.reporting.build import build

        data, design, references, store = load(args)
        out = Path(args.out or Path("reports") / data.name)
        check_out(out)
        written = build(data, design, references, store, out, args.test)
    except AlibenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {out / 'index.html'} ({len(written)} files and plots/, panels/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
