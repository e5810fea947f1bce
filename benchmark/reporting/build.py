"""From loaded runs to the written report: tables, comparisons, figures, panels, page, file.

The same for runs read from MLflow and from runs.parquet; only the panels need the store (they
are artifacts, not in the file), and the page says so when there is none.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.evaluation.declarations import base_key
from benchmark.reporting import intervals, page, panels, plots, runs_file, significance, tables
from benchmark.reporting.design import (
    DEFAULT_HEADLINE,
    PAIRINGS,
    Candidate,
    Design,
    pick_reference,
)
from benchmark.reporting.loading import ExperimentRuns, RunStore
from benchmark.reporting.references import Reference, compare_references

NO_STORE_PANELS = ("Built from runs.parquet, with no MLflow store: image panels are MLflow "
                   "artifacts, which the file does not carry, so none are shown.")


def candidates(data: ExperimentRuns, configs: tables.Configs) -> list[Candidate]:
    """Each config as a reference may name it: id, label, config_key and its params."""
    out = []
    for config, row in configs.frame.iterrows():
        first = configs.runs.index[configs.runs["config"] == config][0]
        params = data.params.loc[first].dropna().astype(str).to_dict()
        out.append(Candidate(str(config), str(row["label"]), str(row["config_key"]), params))
    return out


def effects_by_metric(design: Design, finals: pd.DataFrame) -> dict[str, float]:
    """The design's effects (by metric key) for each summary column of that key."""
    pairs = finals[["metric", "key"]].drop_duplicates().itertuples(index=False)
    return {m: design.effects[base_key(k)] for m, k in pairs if base_key(k) in design.effects}


def design_note(design: Design, reference: str | None, configs: tables.Configs) -> str:
    """Which comparisons were made, in words."""
    if design.compare == "all":
        return ("Every pair of configs is compared (compare: all); Holm corrects over all "
                "pairs of a metric.")
    if reference is None:
        return ("No reference config: name one in the grid (`reference: {optim.name: adam}`) "
                "or with --reference optim.name=adam, and every other config is compared with "
                "it; `compare: all` compares every pair.")
    label = configs.frame.at[reference, "label"]
    return (f"Reference: {reference} ({label}); every other config is compared with it "
            "(B - A: the config minus the reference), and Holm corrects over the comparisons "
            "made on each metric.")


def build(data: ExperimentRuns, design: Design, references: list[Reference],
          store: RunStore | None, out: Path, test: str) -> list[Path]:
    """Compute tables and comparisons, draw figures, copy panels, write the page and the
    runs file; returns the files written."""
    configs = tables.build_configs(data)
    finals = tables.final_values(data, configs)
    baselines = tables.baseline_values(data, configs)
    summary = tables.summary(configs, finals, baselines)
    declared = tables.declarations(finals)
    reference = pick_reference(design, candidates(data, configs))
    pairs = PAIRINGS.get(design.compare)(list(configs.frame.index), reference)
    comparisons = significance.compare(finals[finals["counted"]], pairs, declared, test,
                                       effects_by_metric(design, finals))
    figures = plots.draw_all(plots.context(data, configs, finals, baselines,
                                           design.headline or DEFAULT_HEADLINE), out)
    if store is not None:
        seed, panel_rows, panels_note = *panels.collect(store, configs.runs, out), ""
    else:
        seed, panel_rows, panels_note = None, [], NO_STORE_PANELS
    report = page.Report(
        experiment=data.name, tracking_uri=data.tracking_uri,
        settings=tables.settings(data.params), runs=len(data.runs), duplicates=data.duplicates,
        summary=tables.summary_display(summary, configs.varying, declared), summary_csv=summary,
        comparisons=comparisons, test_title=significance.get_test(test).title,
        test_note=significance.resolution_note(comparisons, test),
        references=compare_references(references, tables.measured_configs(data, configs)),
        figures=figures, panel_seed=seed, panels=panel_rows,
        baseline_note=tables.baselines_note(declared, set(baselines["metric"])),
        baseline_flags=tables.baseline_flags(summary, declared),
        interval_note=intervals.NOTE, design_note=design_note(design, reference, configs),
        seed_warnings=significance.few_seeds(configs.frame),
        panels_note=panels_note)
    written = page.write_report(out, report)
    return [*written, runs_file.write(data, design, out / runs_file.FILE_NAME)]
