"""Configs, final values and the summary table: one row per config, mean ± std over seeds.

A config is every run with the same `config_key` tag (everything but the seed). The summary
shows the params that vary across configs, so a row reads as "adam, instance noise, lr 2e-4".
Means and standard deviations use only runs that finished: diverged, failed and running runs
are counted in their own columns instead of mixing half-trained numbers into the means.
Which logged keys are metrics, their column names, order, direction and baselines all come from
the metrics' declarations (`benchmark.evaluation.declarations`), so a registered metric shows here
with no edit. FID/KID/IS and prdc columns carry their extractor (in the metric key) and sample
counts (from the run's params) in the column name, so numbers made with different settings never
share a column. Each metric with a baseline has the baseline's columns beside it, named by the
baseline's key, and `baseline_flags` names every config that does not beat its floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from benchmark.evaluation.declarations import Baseline, MetricKey, base_key, declared, position
from benchmark.reporting import intervals
from benchmark.reporting.loading import SEED_PARAM, ExperimentRuns
from benchmark.reporting.references import MeasuredConfig
from benchmark.tracking.outcomes import Outcome

UNCOUNTED_OUTCOMES = (Outcome.DIVERGED, Outcome.FAILED, Outcome.RUNNING)
FID_EXTRACTOR_PARAM = "eval.fid_extractor"
FID_GEN_PARAM = "eval.fid_gen_count"
FID_REAL_PARAM = "eval.fid_real_count"
FINAL_RECON = "recon_mse (final)"
BEST_RECON = "recon_mse (best)"
CPU_END = "cpu_time_s (end)"
# (caption label, param key): the settings a reader needs to interpret the numbers.
SETTINGS_PARAMS = (
    ("dataset", "data.dataset"),
    ("image size", "data.image_size"),
    ("batch size", "data.batch_size"),
    ("FID extractor", FID_EXTRACTOR_PARAM),
    ("FID generated samples", FID_GEN_PARAM),
    ("FID real samples", FID_REAL_PARAM),
)


@dataclass
class Configs:
    """The configs of an experiment and which run belongs to which.

    frame: index config id (C1, C2, ... in the order of the varying params); config_key, label,
           the varying params, and run counts (runs, n, diverged, collapsed, failed, running).
    runs:  the experiment's runs with their config id, label and `counted` (enters the stats).
    """

    frame: pd.DataFrame
    runs: pd.DataFrame
    varying: list[str]


def _sort_key(value: str) -> tuple[int, float, str]:
    try:
        return 0, float(value), ""
    except (TypeError, ValueError):
        return 1, 0.0, str(value)


def _short_names(keys: list[str], all_keys: list[str]) -> dict[str, str]:
    """optim.lr_g -> lr_g, unless another param has the same last part (optim.name and
    scheme.name both stay in full)."""
    last = [k.split(".")[-1] for k in all_keys]
    return {k: (k.split(".")[-1] if last.count(k.split(".")[-1]) == 1 else k) for k in keys}


def varying_params(data: ExperimentRuns, config_of: pd.Series) -> list[str]:
    """Params constant within every config but different across configs (the seed varies
    within a config, and so do paths that contain the run key, so neither is listed)."""
    params = data.params.drop(columns=[SEED_PARAM], errors="ignore").fillna("")
    if params.empty:
        return []
    per_config = params.groupby(config_of.reindex(params.index)).nunique(dropna=False)
    constant_inside = per_config.le(1).all()
    differs_across = params.nunique(dropna=False).gt(1)
    return [c for c in params.columns if constant_inside[c] and differs_across[c]]


def _compact(value: object) -> str:
    """A param as a label shows it: a float to 3 significant digits (a tuned step size of
    0.0001261647807407067 reads 0.000126), anything else as logged. Two configs that only
    differ beyond that are told apart by their ids (see build_configs)."""
    text = str(value)
    if any(c in text for c in ".eE"):
        try:
            return f"{float(text):.3g}"
        except ValueError:
            pass
    return text


def build_configs(data: ExperimentRuns) -> Configs:
    """Group runs by config_key, name each config by its varying params, count outcomes."""
    runs = data.runs.copy()
    varying = varying_params(data, runs["config_key"])
    first = data.params.reindex(runs.index).groupby(runs["config_key"]).first()
    keys = sorted(runs["config_key"].unique(), key=lambda k: tuple(
        _sort_key(first.at[k, p]) for p in varying) + (_sort_key(k),))
    short = _short_names(varying, list(data.params.columns))
    rows = []
    for i, key in enumerate(keys):
        values = {p: first.at[key, p] for p in varying}
        shown = {p: _compact(v) for p, v in values.items()}
        label = (", ".join(f"{short[p]}={v}" for p, v in shown.items()) if len(varying) > 1
                 else next(iter(shown.values()), "all runs"))
        rows.append({"config": f"C{i + 1}", "config_key": key, "label": label, **values})
    frame = pd.DataFrame(rows).set_index("config")
    repeated = frame["label"].duplicated(keep=False)  # configs whose params were not logged
    frame.loc[repeated, "label"] = frame.index[repeated] + " " + frame["label"][repeated]
    ids = pd.Series(frame.index, index=frame["config_key"])
    runs["config"] = runs["config_key"].map(ids)
    runs["label"] = runs["config"].map(frame["label"])
    runs["counted"] = ~runs["outcome"].isin(UNCOUNTED_OUTCOMES)
    grouped = runs.groupby("config")
    frame["runs"] = grouped.size()
    frame["n"] = grouped["counted"].sum()
    frame[str(Outcome.DIVERGED)] = grouped["outcome"].agg(
        lambda s: int((s == Outcome.DIVERGED).sum()))
    frame["collapsed"] = grouped["collapsed"].sum()
    for outcome in (Outcome.FAILED, Outcome.RUNNING):
        count = grouped["outcome"].agg(lambda s, o=outcome: int((s == o).sum()))
        if count.any():
            frame[str(outcome)] = count
    return Configs(frame=frame, runs=runs, varying=varying)


def measured_configs(data: ExperimentRuns, configs: Configs) -> list[MeasuredConfig]:
    """Each config's params and the raw final values of its counted runs (for references)."""
    out = []
    for config, row in configs.frame.iterrows():
        members = configs.runs[configs.runs["config"] == config]
        finals = data.finals.loc[members.index[members["counted"]]]
        params = data.params.loc[members.index[0]].dropna().astype(str).to_dict()
        out.append(MeasuredConfig(str(row["label"]), params,
                                  {k: finals[k].dropna().tolist() for k in finals.columns}))
    return out


base_metric = base_key


def summary_metric(key: str) -> bool:
    """Whether a metric key enters the summary: every declared metric of the model, also as
    `avg_<kind>.` averaged-params metric (not losses, times or the baselines themselves)."""
    return declared(key) is not None


def metric_label(key: str, params: pd.Series) -> str:
    """The column name of a logged key: its declared label (sample-based metrics state their
    sample counts); an undeclared key is its own name."""
    found = declared(key)
    return key if found is None else found.column(key, params)


LONG_COLUMNS = ["run_id", "config", "label", "counted", "metric", "key", "value"]


def _long(rows: list[tuple[str, str, str, float]], configs: Configs) -> pd.DataFrame:
    long = pd.DataFrame(rows, columns=["run_id", "metric", "key", "value"])
    info = configs.runs[["config", "label", "counted"]]
    return long.join(info, on="run_id")[LONG_COLUMNS]


def final_values(data: ExperimentRuns, configs: Configs) -> pd.DataFrame:
    """Long table run_id, config, label, counted, metric (the column name), key (the logged
    key), value of every summary metric: the last logged value, the best value of the history
    for keys declared `best` (recon_mse), and the CPU time used."""
    rows = []
    for run_id, finals in data.finals.iterrows():
        params = data.params.loc[run_id]
        for key, value in finals.items():
            if pd.notna(value) and summary_metric(key):
                rows.append((run_id, metric_label(key, params), key, float(value)))
        if pd.notna(finals.get("cpu_time_s")):
            rows.append((run_id, CPU_END, "cpu_time_s", float(finals["cpu_time_s"])))
    best = {k: found for k in data.history["key"].unique()
            if (found := declared(k)) is not None and found.best and base_key(k) == k}
    history = data.history[data.history["key"].isin(list(best))]
    for (run_id, key), values in history.groupby(["run_id", "key"])["value"]:
        found = best[key]
        value = values.max() if found.higher_is_better else values.min()
        if pd.notna(value):
            rows.append((run_id, found.best_column(key, data.params.loc[run_id]), key,
                         float(value)))
    return _long(rows, configs)


def baseline_values(data: ExperimentRuns, configs: Configs) -> pd.DataFrame:
    """The same long table for the baselines each run logged beside its metrics (metric = key):
    each metric's own baseline and its untrained model."""
    wanted = {b.key for found in map(declared, data.finals.columns) if found is not None
              for b in found.baselines}
    keys = [k for k in data.finals.columns if k in wanted]
    rows = [(run_id, key, key, float(value))
            for run_id, finals in data.finals[keys].iterrows()
            for key, value in finals.items() if pd.notna(value)]
    return _long(rows, configs)


def declarations(finals: pd.DataFrame) -> dict[str, MetricKey]:
    """Each summary column name (metric) -> the declaration of its logged key."""
    out = {}
    for metric, key in finals[["metric", "key"]].drop_duplicates().itertuples(index=False):
        found = declared(key)
        if found is not None:
            out[metric] = found
    return out


def metric_order(finals: pd.DataFrame) -> list[str]:
    """The columns (`metric`) of a long table: keys with a best value first (recon_mse, final
    before best), then in the order of their declarations, averaged params after, CPU last."""
    def rank(item: tuple[str, str]) -> tuple[int, int, int, bool, str]:
        metric, key = item
        found = declared(key)
        if found is None:
            return 2, 0, 0, False, metric
        return (int(base_key(key) != key), 0 if found.best else 1, position(found),
                metric.endswith(" (best)"), metric)
    pairs = finals[["metric", "key"]].drop_duplicates("metric").itertuples(index=False)
    return [metric for metric, _ in sorted(map(tuple, pairs), key=rank)]


def _interval(values: pd.Series) -> pd.Series:
    low, high = intervals.mean_interval(values.to_numpy(float))
    return pd.Series({"low": low, "high": high})


def summary(configs: Configs, finals: pd.DataFrame,
            baselines: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per config: varying params, run counts, and n/mean/std/95% interval of every
    metric over counted runs (pandas' sample std, ddof=1; NaN for one run; the interval:
    `intervals.mean_interval`). The baselines' columns (over the same runs) follow the metrics
    that have them, e.g. recon_mse (final), recon_mse (best), recon_mse_mean_image,
    untrained_recon_mse; averaged-params metrics further right share them."""
    values = finals if baselines is None else pd.concat([finals, baselines], ignore_index=True)
    counted = values[values["counted"]]
    grouped = counted.groupby(["config", "metric"])["value"]
    stats = grouped.agg(["count", "mean", "std"]).join(grouped.apply(_interval).unstack())
    present = set(values["metric"])
    declared = declarations(finals)
    table = configs.frame.copy()
    order = metric_order(finals)
    follows: dict[str, str] = {}  # baseline -> the metric its columns follow
    for metric in order:  # live metrics come first: the last live one, else the first average
        found = declared.get(metric)
        for key in (b.key for b in (found.baselines if found is not None else ())):
            if key in present and (key not in follows or base_metric(metric) == metric):
                follows[key] = metric
    columns: dict[str, pd.Series] = {}
    empty = pd.DataFrame(columns=["count", "mean", "std", "low", "high"])
    for metric in order:
        names = [metric, *(k for k, m in follows.items() if m == metric)]
        for name in names:
            part = stats.xs(name, level="metric") if name in stats.index.get_level_values(
                "metric") else empty
            columns[f"{name} n"] = part["count"].reindex(table.index).fillna(0).astype(int)
            columns[f"{name} mean"] = part["mean"].reindex(table.index)
            columns[f"{name} std"] = part["std"].reindex(table.index)
            columns[f"{name} ci95 low"] = part["low"].reindex(table.index).astype(float)
            columns[f"{name} ci95 high"] = part["high"].reindex(table.index).astype(float)
    return pd.concat([table, pd.DataFrame(columns, index=table.index)], axis=1)


@dataclass(frozen=True)
class BaselineFlag:
    """A config whose mean on a metric does not beat the mean of one of its floor baselines."""

    config: str
    label: str
    metric: str
    value: float
    baseline: float
    declaration: MetricKey
    base: Baseline

    def text(self) -> str:
        """One sentence: 'C2 (none): recon_mse (final) does not beat the mean-image baseline
        recon_mse_mean_image (0.104 vs 0.048; lower is better)'."""
        way = "higher" if self.declaration.higher_is_better else "lower"
        return (f"{self.config} ({self.label}): {self.metric} does not beat the "
                f"{self.base.name} {self.base.key} ({fmt(self.value, 3)} vs "
                f"{fmt(self.baseline, 3)}; {way} is better)")


def baseline_flags(table: pd.DataFrame, declared: dict[str, MetricKey]) -> list[BaselineFlag]:
    """Per config and metric, in table order: each mean that is not strictly better than one
    of its floor baselines' means over the same config's runs (the untrained model's too;
    ceilings are shown, never flagged)."""
    flags = []
    for config, row in table.iterrows():
        for metric in summary_metrics(table):
            found = declared.get(metric)
            for base in (b for b in (found.baselines if found else ()) if b.floor):
                value, level = row[f"{metric} mean"], row.get(f"{base.key} mean")
                if pd.notna(value) and pd.notna(level) and not found.beats(value, level):
                    flags.append(BaselineFlag(str(config), str(row["label"]), metric,
                                              float(value), float(level), found, base))
    return flags


def baselines_note(declared: dict[str, MetricKey], present: set[str] | None = None) -> str:
    """What the baseline columns are, for the metrics this report has (and, given `present`,
    the baselines its runs logged)."""
    said: dict[str, list[str]] = {}
    for metric, found in declared.items():
        way = "higher" if found.higher_is_better else "lower"
        for base in found.baselines:
            if present is not None and base.key not in present:
                continue
            kind = "the floor to beat" if base.floor else "a ceiling, never flagged"
            text = f"{base.key} ({base.name}, {kind}; {way} is better)"
            said.setdefault(text, []).append(metric)
    if not said:
        return ""
    parts = [f"{', '.join(metrics)} beside {text}" for text, metrics in said.items()]
    return ("Baselines, logged by every run at step 0 and averaged over the same seeds: "
            + "; ".join(parts) + ".")


def summary_metrics(table: pd.DataFrame) -> list[str]:
    """The metric names of a summary table, in column order."""
    return [c[: -len(" mean")] for c in table.columns if c.endswith(" mean")]


def fmt(value: float, digits: int = 4) -> str:
    """A number for people: 4 significant digits, '-' for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def mean_std(mean: float, std: float, digits: int = 4) -> str:
    """'mean ± std', or just the mean when one run gives no spread."""
    if isinstance(mean, float) and math.isnan(mean):
        return "-"
    return fmt(mean, digits) if isinstance(std, float) and math.isnan(std) else (
        f"{fmt(mean, digits)} ± {fmt(std, 2)}")


def mean_interval(mean: float, low: float | None, high: float | None, digits: int = 4) -> str:
    """'mean [low, high]' (the 95% interval), or just the mean when there is none."""
    if isinstance(mean, float) and math.isnan(mean):
        return "-"
    if low is None or pd.isna(low):
        return fmt(mean, digits)
    return f"{fmt(mean, digits)} [{fmt(low, 3)}, {fmt(high, 3)}]"


def summary_display(table: pd.DataFrame, varying: list[str],
                    declared_columns: dict[str, MetricKey] | None = None) -> pd.DataFrame:
    """The summary as text cells: 'mean [95% interval]' (the mean to its declaration's
    digits), with '(n=k)' where a metric has fewer runs."""
    digits = {m: found.digits for m, found in (declared_columns or {}).items()}
    counts = [c for c in ("runs", "n", "diverged", "collapsed", "failed", "running")
              if c in table.columns]
    out = table[[*varying, *counts]].astype(str)  # the label repeats the varying params
    for metric in summary_metrics(table):
        cells = []
        for config, row in table.iterrows():
            cell = mean_interval(row[f"{metric} mean"], row.get(f"{metric} ci95 low"),
                                 row.get(f"{metric} ci95 high"), digits.get(metric, 4))
            k = row[f"{metric} n"]
            if cell != "-" and k != table.at[config, "n"]:
                cell += f" (n={k})"
            cells.append(cell)
        out[metric] = cells
    return out.reset_index()


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of string cells (no extra dependency)."""
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")
    head = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(
        index=False)]
    return "\n".join([head, rule, *body]) + "\n"


BUDGET_PARAMS = (("train.grad_evals", "gradient evaluations"), ("train.steps", "steps"))
BUDGET_LABEL = "budget"  # the settings entry that states the runs' budgets


def budgets(params: pd.DataFrame) -> str:
    """The runs' training budgets in words, each distinct one once: '4000 gradient evaluations'
    for runs with `train.grad_evals` (then `train.steps` is not what they ran), else '1000
    steps'; '' when no run logged either."""
    found: list[tuple[float, str]] = []
    for _, row in params.iterrows():
        for key, unit in BUDGET_PARAMS:
            value = row.get(key)
            if isinstance(value, str) and value not in ("", "None"):
                found.append((_sort_key(value)[1], f"{value} {unit}"))
                break
    said = [text for _, text in sorted(set(found), key=lambda item: (item[1].split()[-1],
                                                                    item[0]))]
    return ", ".join(said)


def find_param(params: pd.DataFrame, key: str) -> str | None:
    """The param column `key`, or the only column with the same last part (data.size...)."""
    if key in params.columns:
        return key
    last = key.split(".")[-1]
    matches = [c for c in params.columns if c.split(".")[-1] == last]
    return matches[0] if len(matches) == 1 else None


def settings(params: pd.DataFrame) -> list[tuple[str, str]]:
    """The run settings a caption states: each present setting with its distinct values, and
    the training budget (gradient evaluations where runs set them: their `train.steps` is then
    not what they ran)."""
    out = []
    if budget := budgets(params):
        out.append((BUDGET_LABEL, budget))
    for label, key in SETTINGS_PARAMS:
        column = find_param(params, key)
        if column is None:
            continue
        values = sorted(params[column].dropna().astype(str).unique(), key=_sort_key)
        if values:
            out.append((label, ", ".join(values)))
    return out
