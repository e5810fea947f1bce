"""Turn an experiment's runs in MLflow into a report, without training again.

    python -m benchmark.report --experiment sem_vs_sgd
    python -m benchmark.report --grid grids/mixture25.yaml          # name + published refs
    python -m benchmark.report --experiment x --tracking-uri sqlite:///runs/mlflow.db \\
        --out reports/x/ --test welch

Writes summary.csv/.md, comparisons.csv/.md, plots/, panels/, index.html and README.md.
User mistakes print one line `error: ...`, exit 2 and write nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmark.errors import AlibenchError, ConfigError, OneLineParser
from benchmark.grid_yaml import read_grid_file
from benchmark.plugins import load_plugins
from benchmark.reporting.references import Reference, parse_references
from benchmark.tracking import DEFAULT_TRACKING_URI


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
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--experiment", help="MLflow experiment name (the grid's name)")
    which.add_argument("--grid", help="grid YAML: takes its name and published references")
    p.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI,
                   help=f"MLflow tracking URI (default: {DEFAULT_TRACKING_URI})")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import this module first, so its metrics' columns are shown; repeatable")
    p.add_argument("--out", help="report folder (default: reports/<experiment>/)")
    p.add_argument("--test", default="mannwhitney", choices=sorted(TESTS),
                   help="pairwise test (default: mannwhitney)")
    return p


def build(name: str, references: list[Reference], tracking_uri: str, out: Path,
          test: str) -> list[Path]:
    """Load the runs, compute tables, draw figures, copy panels and write the page."""
    from benchmark.reporting import page, panels, plots, significance, tables
    from benchmark.reporting.loading import RunStore
    from benchmark.reporting.references import compare_references

    store = RunStore(tracking_uri)
    data = store.load(name, plots.wants_history)  # every user mistake is raised by here
    configs = tables.build_configs(data)
    finals = tables.final_values(data, configs)
    baselines = tables.baseline_values(data, configs)
    summary = tables.summary(configs, finals, baselines)
    declared = tables.declarations(finals)
    counted = finals[finals["counted"]]
    comparisons = significance.compare(counted, test, list(configs.frame.index))
    figures = plots.draw_all(plots.context(data, configs, finals, baselines), out)
    seed, panel_rows = panels.collect(store, configs.runs, out)
    report = page.Report(
        experiment=name, tracking_uri=tracking_uri, settings=tables.settings(data.params),
        runs=len(data.runs), duplicates=data.duplicates,
        summary=tables.summary_display(summary, configs.varying, declared), summary_csv=summary,
        comparisons=comparisons, test_title=significance.get_test(test).title,
        test_note=significance.resolution_note(comparisons, test),
        references=compare_references(references, tables.measured_configs(data, configs)),
        figures=figures,
        panel_seed=seed, panels=panel_rows, baseline_note=tables.baselines_note(declared),
        baseline_flags=tables.baseline_flags(summary, declared))
    return page.write_report(out, report)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        load_plugins(args.plugin)
        if args.grid:
            name, references = read_grid(args.grid)
        else:
            name, references = args.experiment, []
        out = Path(args.out or Path("reports") / name)
        check_out(out)
        written = build(name, references, args.tracking_uri, out, args.test)
    except AlibenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {out / 'index.html'} ({len(written)} files and plots/, panels/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
