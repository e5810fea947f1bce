"""Write the report: CSV and markdown tables, `index.html` and `README.md`.

The page is one self-contained HTML file: inline CSS, no script, images by relative path, so
the report folder can be zipped, mailed and opened offline.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.reporting import references as refs
from benchmark.reporting.panels import PANEL_KINDS, PanelRow
from benchmark.reporting.plots import Figure
from benchmark.reporting.tables import BUDGET_LABEL, BaselineFlag, fmt, markdown_table, mean_std

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;
color:#222}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
img{max-width:100%;height:auto}
figure{margin:1em 0 2em}
figcaption,.note{color:#555;font-size:.9em}
.inside{color:#1a7f37}.outside{color:#b42318}
.panels img{max-width:320px}
.scroll{overflow-x:auto}
"""


@dataclass
class Report:
    """Everything the page shows, already computed."""

    experiment: str
    tracking_uri: str
    settings: list[tuple[str, str]]
    runs: int
    duplicates: int
    summary: pd.DataFrame  # display cells (tables.summary_display)
    summary_csv: pd.DataFrame  # numbers (tables.summary)
    comparisons: pd.DataFrame  # significance.compare
    test_title: str
    test_note: str  # significance.resolution_note
    references: list[refs.ReferenceRow]
    figures: list[Figure]
    panel_seed: int | None
    panels: list[PanelRow]
    baseline_note: str = ""  # tables.baselines_note: which column is whose baseline
    baseline_flags: list[BaselineFlag] = field(default_factory=list)
    interval_note: str = ""  # intervals.NOTE: how the 95% intervals are made
    design_note: str = ""  # which comparisons were made (build.design_note)
    seed_warnings: list[str] = field(default_factory=list)  # significance.few_seeds
    panels_note: str = ""  # why there are no panels (a report from runs.parquet)

    @property
    def budget(self) -> str:
        """The runs' budgets in words (tables.budgets, one of the settings): where the final
        values are taken."""
        return dict(self.settings).get(BUDGET_LABEL, "")

    def settings_line(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.settings) or "no settings params logged"


def budget_note(report: Report) -> str:
    """Which axis the summary and the pairwise tests compare on: the end of the budget."""
    budget = f" ({report.budget})" if report.budget else ""
    return (f"Compared at the end of each run's budget{budget}: its last evaluation. A step "
            "costs a different number of gradient evaluations per scheme; budgets in "
            "train.grad_evals match compute.")


SUMMARY_NOTE = ("One row per config (runs that differ only by seed). Cells: mean [95% "
                "interval] over the finished seeds (summary.csv also has the sample std, "
                "ddof=1); n = finished runs; diverged, failed and running runs are excluded "
                "from the means and counted on their own. FID/KID/IS columns name their "
                "extractor and sample counts.")
VERDICT_NOTE = ("Verdict: better or worse when the Holm-corrected p is at most 0.05 (the "
                "direction from P(improvement)); underpowered when the smallest p the design "
                "can reach, after Holm, is above 0.05, or the interval of B - A is wider than "
                "the effect the study asks about (effects:), so a non-significant result says "
                "nothing; otherwise no difference detected. P(improvement): the probability "
                "that a seed of B scores better than a seed of A (ties count half; Agarwal et "
                "al. 2021).")


def _interval(low: float, high: float, digits: int = 3) -> str:
    return "-" if pd.isna(low) else f"[{fmt(low, digits)}, {fmt(high, digits)}]"


def comparisons_display(table: pd.DataFrame) -> pd.DataFrame:
    """The comparisons as text cells; B - A = mean of B - mean of A (A: the reference)."""
    return pd.DataFrame({
        "metric": table["metric"],
        "A": table["config_a"] + " " + table["label_a"],
        "B": table["config_b"] + " " + table["label_b"],
        "n A": table["n_a"], "n B": table["n_b"],
        "mean A": table["mean_a"].map(fmt), "mean B": table["mean_b"].map(fmt),
        "B - A": table["diff"].map(fmt),
        "B - A 95%": [_interval(lo, hi) for lo, hi in zip(
            table["diff ci95 low"], table["diff ci95 high"], strict=True)],
        "P(B better)": [f"{fmt(p, 2)} {_interval(lo, hi, 2)}" for p, lo, hi in zip(
            table["p_improvement"], table["p_improvement ci95 low"],
            table["p_improvement ci95 high"], strict=True)],
        "p": table["p_value"].map(lambda p: fmt(p, 3)),
        "p (Holm)": table["p_holm"].map(lambda p: fmt(p, 3)),
        "min p (Holm)": table["p_floor_holm"].map(lambda p: fmt(p, 2)),
        "verdict": table["verdict"],
    })


def comparison_lines(report: Report) -> list[str]:
    """What the comparisons are, in sentences: design, test, floor, intervals, verdicts, and
    the configs with fewer seeds than a study has."""
    head = " ".join(t for t in (report.design_note, f"Test: {report.test_title}.",
                                report.test_note, report.interval_note) if t)
    return [head, VERDICT_NOTE, *(f"Warning: {w}." for w in report.seed_warnings)]


def references_frame(rows: list[refs.ReferenceRow]) -> pd.DataFrame:
    """Published values beside the measured ones, with the band verdict."""
    return pd.DataFrame([{
        "metric": r.reference.metric,
        "published": mean_std(r.reference.mean, r.reference.std if r.reference.std is not None
                              else float("nan")),
        "source": r.reference.source,
        "settings": r.reference.settings,
        "config": r.config or "-",
        "n": r.n,
        "measured": mean_std(r.mean, r.std),
        "verdict": r.verdict,
    } for r in rows], columns=["metric", "published", "source", "settings", "config", "n",
                               "measured", "verdict"])


def _html_table(frame: pd.DataFrame, flagged: frozenset[tuple[str, str]] = frozenset()) -> str:
    """A table of text cells; `flagged` (config, column) cells are marked like an outside
    verdict (the summary's metrics that do not beat their baseline)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        config = str(getattr(row, "config", ""))
        for column, value in zip(frame.columns, row, strict=True):
            cls = f' class="{value}"' if column == "verdict" and value in (
                refs.INSIDE, refs.OUTSIDE) else ""
            if (config, column) in flagged:
                cls = f' class="{refs.OUTSIDE}" title="does not beat its baseline"'
            cells.append(f"<td{cls}>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<div class='scroll'><table><tr>{head}</tr>\n" + "\n".join(body)
            + "</table></div>")


BASELINES_TITLE = "Against the trivial baselines"
ALL_BEAT = "Every config beats every baseline logged beside its metrics."


def baseline_lines(report: Report) -> list[str]:
    """The baseline section in words: what the columns are, then each config and metric that
    does not beat its baseline (one sentence each), or that all do."""
    if not report.baseline_note:
        return []
    flags = [f.text() for f in report.baseline_flags]
    return [report.baseline_note, *(flags or [ALL_BEAT])]


def _baselines_markdown(report: Report) -> list[str]:
    lines = baseline_lines(report)
    if not lines:
        return []
    return [f"### {BASELINES_TITLE}", "", lines[0], "", *(f"- {t}" for t in lines[1:]), ""]


def _missing_panel(row: PanelRow, kind: str) -> str:
    if kind in row.unreadable:
        return "logged, but not a readable image (half-written?)"
    return "not logged"


def linked_files(text: str) -> list[str]:
    """The relative files a page or markdown links as images (src='...' and ![..](...))."""
    return re.findall(r"<img src='([^']+)'", text) + re.findall(r"!\[[^\]]*\]\(([^)]+)\)",
                                                                  text)


def _panel_kinds(panels: list[PanelRow]) -> list[str]:
    return [k for k in PANEL_KINDS if any(k in p.files for p in panels)]


def _seed_note(report: Report) -> str:
    if report.panel_seed is not None:
        return f"All panels from seed {report.panel_seed}, the smallest seed every config has."
    return "No seed is shared by every config: each config shows its own smallest seed."


def _html(report: Report) -> str:
    e = html.escape
    parts = [f"<h1>alibench report: {e(report.experiment)}</h1>",
             f"<p class='note'>{report.runs} runs from {e(report.tracking_uri)}"
             + (f"; {report.duplicates} duplicate MLflow run(s) of a run key left out (the "
                "finished or newest one is kept)" if report.duplicates else "") + "</p>",
             f"<p><b>Settings</b> (from the runs' params): {e(report.settings_line())}</p>",
             "<h2>Summary</h2>",
             f"<p class='note'>{e(SUMMARY_NOTE)} {e(budget_note(report))}</p>",
             _html_table(report.summary, frozenset((f.config, f.metric)
                                                   for f in report.baseline_flags))]
    baselines = baseline_lines(report)
    if baselines:
        items = "".join(f"<li class='{refs.OUTSIDE}'>{e(t)}</li>" if report.baseline_flags
                        else f"<li>{e(t)}</li>" for t in baselines[1:])
        parts += [f"<h3>{BASELINES_TITLE}</h3>", f"<p class='note'>{e(baselines[0])}</p>",
                  f"<ul class='baselines'>{items}</ul>"]
    if report.references:
        parts += ["<h2>Published references</h2>",
                  "<p class='note'>Inside: the measured mean lies in the published mean ± std."
                  "</p>", _html_table(references_frame(report.references))]
    parts += ["<h2>Comparisons</h2>",
              *(f"<p class='note'>{e(t)}</p>" for t in comparison_lines(report)),
              f"<p class='note'>{e(budget_note(report))}</p>"]
    if report.comparisons.empty:
        parts.append("<p>No comparison was made (none asked for, or no two configs with two or "
                     "more finished seeds on a metric).</p>")
    display = comparisons_display(report.comparisons)
    for metric, part in display.groupby("metric", sort=False):
        opened = " open" if len(part) <= 30 else ""
        parts.append(f"<details{opened}><summary>{e(str(metric))} ({len(part)} comparisons)"
                     f"</summary>{_html_table(part.drop(columns='metric'))}</details>")
    parts.append("<h2>Figures</h2>")
    for fig in report.figures:
        if fig.skipped:
            parts.append(f"<p class='note'>Skipped <b>{e(fig.title)}</b>: {e(fig.skipped)}.</p>")
            continue
        png, svg = fig.files
        parts.append(f"<figure><a href='{e(svg)}'><img src='{e(png)}' alt='{e(fig.title)}'>"
                     f"</a><figcaption><b>{e(fig.title)}.</b> {e(fig.caption)} "
                     + (f"<i>{e(fig.axis)}.</i> " if fig.axis else "")
                     + f"{e(report.settings_line())}.</figcaption>"
                     "</figure>")
    parts += ["<h2>Image panels</h2>", f"<p class='note'>{e(_seed_note(report))} "
              f"{e(report.settings_line())}.</p>"]
    kinds = _panel_kinds(report.panels)
    if report.panels_note:
        parts.append(f"<p>{e(report.panels_note)}</p>")
    elif not kinds:
        parts.append("<p>No run logged panels/*.png artifacts.</p>")
    else:
        head = "".join(f"<th>{e(PANEL_KINDS[k])}</th>" for k in kinds)
        rows = []
        for p in report.panels:
            cells = "".join(f"<td><img src='{e(p.files[k])}' alt='{e(p.config)} {k}'></td>"
                            if k in p.files else f"<td>{_missing_panel(p, k)}</td>"
                            for k in kinds)
            rows.append(f"<tr><th>{e(p.config)}<br>{e(p.label)}<br>seed {p.seed!s} "
                        f"({e(p.outcome)})</th>{cells}</tr>")
        parts.append(f"<table class='panels'><tr><th>config</th>{head}</tr>"
                     + "".join(rows) + "</table>")
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>alibench: {e(report.experiment)}</title><style>{CSS}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


def _markdown(report: Report) -> str:
    lines = [f"# alibench report: {report.experiment}", "",
             f"{report.runs} runs from `{report.tracking_uri}`. Settings: "
             f"{report.settings_line()}.", "", "## Summary", "",
             f"{SUMMARY_NOTE} {budget_note(report)}", "",
             markdown_table(report.summary), *_baselines_markdown(report)]
    if report.references:
        lines += ["## Published references", "",
                  markdown_table(references_frame(report.references))]
    lines += ["## Comparisons", "",
              f"{len(report.comparisons)} comparisons in [comparisons.md](comparisons.md) and "
              f"[comparisons.csv](comparisons.csv). {budget_note(report)}", "",
              *(line for t in comparison_lines(report) for line in (t, "")),
              "## Figures", ""]
    for fig in report.figures:
        if fig.skipped:
            lines += [f"Skipped **{fig.title}**: {fig.skipped}.", ""]
        else:
            lines += [f"![{fig.title}]({fig.files[0]})", "",
                      f"**{fig.title}.** {fig.caption} "
                      + (f"*{fig.axis}.* " if fig.axis else "")
                      + f"([SVG]({fig.files[1]}))", ""]
    lines += ["## Image panels", "", report.panels_note or _seed_note(report), ""]
    kinds = _panel_kinds(report.panels)
    if kinds:
        cells = pd.DataFrame([{"config": f"{p.config} {p.label} (seed {p.seed})",
                               **{PANEL_KINDS[k]: f"![{k}]({p.files[k]})" if k in p.files
                                  else _missing_panel(p, k) for k in kinds}}
                              for p in report.panels])
        lines.append(markdown_table(cells))
    return "\n".join(lines) + "\n"


def write_report(out: Path, report: Report) -> list[Path]:
    """Write the tables (CSV and markdown), index.html and README.md; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "summary.csv": report.summary_csv.to_csv(),
        "summary.md": "\n".join([markdown_table(report.summary),
                                 *_baselines_markdown(report)]),
        "comparisons.csv": report.comparisons.to_csv(index=False),
        "comparisons.md": "\n\n".join([*comparison_lines(report), markdown_table(
            comparisons_display(report.comparisons))]),
        "index.html": _html(report),
        "README.md": _markdown(report),
    }
    if report.references:
        written["references.csv"] = references_frame(report.references).to_csv(index=False)
    else:  # a regenerated report must not keep the verdicts of an earlier --grid
        (out / "references.csv").unlink(missing_ok=True)
    missing = sorted({html.unescape(f) for name in ("index.html", "README.md")
                      for f in linked_files(written[name]) if not (out / html.unescape(f)).is_file()})
    if missing:  # a bug: every image is written before the page that shows it
        raise RuntimeError(f"the report would link missing images: {', '.join(missing)}")
    for name, text in written.items():
        (out / name).write_text(text, encoding="utf-8")
    return [out / name for name in written]
