"""The report's figures (seaborn, Agg backend), each saved as PNG and SVG.

Curves are drawn per config with a band of ± 1 std over seeds; diverged runs simply end early.
A figure whose metric no run logged is skipped with a reason the page prints, never an error.
Every declared metric of the live networks that runs log at evaluation steps is drawn against
gradient evaluations (`metrics_grad_evals`, one panel per metric and settings), the axis that
compares optimizers at a matched compute budget. The study's headline metric (`headline:` in the
grid, `--headline` of the report; recon_mse by default) is also drawn against steps, CPU time
and gradient evaluations alone, and against the learning rate; its declaration's `title` and
`about` name it (the figures keep their file names: `recon_steps`, `recon_cpu`,
`recon_grad_evals`, which published reports link). Each figure states its x axis (`Figure.axis`).
A metric with a baseline (its declaration: benchmark.evaluation.declarations) is a dashed line: one per
config where the configs' baselines differ, else one for all (the gid of each starts with
`baseline-<key>`, so the SVG names it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from benchmark.evaluation.declarations import MetricKey, base_key, declared, position  # noqa: E402
from benchmark.reporting import tables  # noqa: E402
from benchmark.reporting.loading import ExperimentRuns  # noqa: E402

HISTORY_KEYS = ("loss_d", "loss_g", "recon_mse", "cpu_time_s", "grad_evals")
HISTORY_PREFIXES = ("fid_",)
OPTIMIZER_PARAM = "optim.name"
STABILIZER_PARAM = "stabilizers"
LR_PARAMS = ("optim.lr_g", "optim.lr_d")
MAX_POINTS = 400  # per run and key: long histories are thinned evenly, keeping the last point
GRID_POINTS = 100  # common compute grid (CPU time, gradient evaluations) for the seed bands
BAND = "line: mean over seeds; band: ± 1 std over seeds"
BASELINE_COLOUR = "0.15"
BASELINE_STYLE = "--"
GRAD_EVALS = "grad_evals"
GRAD_EVALS_COST = ("forward passes of the game with their gradients: alternating costs "
                   "d_steps + 1 per step, extragradient 2, the others 1")
PANEL_COLUMNS = 3  # panels per row of a figure with one panel per metric


def wants_history(key: str) -> bool:
    """The metric histories the figures and the `best` columns of the summary need from
    MLflow: losses, compute axes, and every declared metric of the live networks (each has a
    panel against gradient evaluations); not the averaged-params copies nor the baselines."""
    if key in HISTORY_KEYS or key.startswith(HISTORY_PREFIXES):
        return True
    return base_key(key) == key and declared(key) is not None


@dataclass
class Figure:
    """One figure of the page: files relative to the report folder, or why it was skipped."""

    name: str
    title: str
    caption: str
    files: tuple[str, ...] = ()
    skipped: str = ""
    axis: str = ""  # which x axis the figure compares on, in words (AXES)


@dataclass
class Context:
    """What every figure draws from: curves with config labels, final values, colours."""

    data: ExperimentRuns
    configs: tables.Configs
    finals: pd.DataFrame
    history: pd.DataFrame
    labels: list[str]
    palette: dict[str, tuple[float, float, float]]
    baselines: pd.DataFrame  # tables.baseline_values
    headline: str = "recon_mse"  # the metric key the headline figures follow

    @property
    def headline_title(self) -> str:
        """The headline in words, from its declaration ("Reconstruction MSE")."""
        found = declared(self.headline)
        return (found.title if found is not None and found.title else self.headline)

    @property
    def headline_about(self) -> str:
        found = declared(self.headline)
        return found.about if found is not None else ""

    def baseline_levels(self, key: str, by: pd.Series) -> dict[str, float]:
        """The mean of baseline `key` over the finished runs of each group; `by` maps config
        id -> group (its label, or its optimizer in a figure that groups by optimizer)."""
        part = self.baselines[self.baselines["counted"] & (self.baselines["metric"] == key)]
        return part.groupby(part["config"].map(by))["value"].mean().to_dict()

    def config_params(self) -> pd.DataFrame:
        """Each config's params (index config id), from its first run."""
        runs = self.configs.runs
        return self.data.params.reindex(runs.index).groupby(runs["config"]).first()


def _thin(history: pd.DataFrame) -> pd.DataFrame:
    """At most MAX_POINTS evenly spaced points per run and key, always keeping the last."""
    groups = history.groupby(["run_id", "key"])
    pos = groups.cumcount()
    size = groups["step"].transform("size")
    stride = np.ceil(size / MAX_POINTS).astype(int)
    return history[(pos % stride == 0) | (pos == size - 1)]


def context(data: ExperimentRuns, configs: tables.Configs, finals: pd.DataFrame,
            baselines: pd.DataFrame | None = None, headline: str = "recon_mse") -> Context:
    """Label the curves by config, drop non-finite points (diverged runs) and thin them."""
    hist = data.history.join(configs.runs[["config", "label"]], on="run_id")
    hist = hist[np.isfinite(hist["value"])]
    labels = list(configs.frame["label"])
    colours = sns.color_palette("tab10" if len(labels) <= 10 else "husl", len(labels))
    if baselines is None:
        baselines = tables.baseline_values(data, configs)
    return Context(data, configs, finals, _thin(hist), labels,
                   dict(zip(labels, colours, strict=True)), baselines, headline)


def baseline_lines(ax: plt.Axes, found: MetricKey | None, levels: dict[str, float],
                   palette: dict | None = None) -> list[plt.Line2D]:
    """Dashed horizontal lines at a metric's baseline: one for all groups when their levels
    agree, else one per group (in the group's colour from `palette`, when given). Returns the
    lines drawn, labelled by group ('' when shared)."""
    if found is None or found.baseline is None or not levels:
        return []
    base = found.baseline
    values = np.array(list(levels.values()))
    shared = bool(np.allclose(values, values[0], rtol=1e-9, atol=0.0))
    groups = {"": float(values.mean())} if shared else levels
    lines = []
    for i, (group, level) in enumerate(groups.items()):
        colour = palette.get(group, BASELINE_COLOUR) if palette and group else BASELINE_COLOUR
        lines.append(ax.axhline(level, color=colour, ls=BASELINE_STYLE, lw=1.2, label=group,
                                gid=f"baseline-{base.key}-{i}"))
    level = max(groups.values()) if found.higher_is_better else min(groups.values())
    value = f" {tables.fmt(level, 3)}" if shared else ""
    ax.annotate(f"{base.name} ({base.key}){value}", (0.01, level),
                xycoords=("axes fraction", "data"), va="bottom", fontsize=8,
                color=BASELINE_COLOUR)
    return lines


def baseline_ticks(ax: plt.Axes, found: MetricKey | None, levels: dict[str, float],
                   order: list[str]) -> list:
    """On a horizontal categorical plot (rows `order`), a dashed vertical tick across each
    row at its baseline level. Returns the LineCollections drawn (one per figure panel)."""
    if found is None or found.baseline is None:
        return []
    rows = [(i, levels[c]) for i, c in enumerate(order) if c in levels]
    if not rows:
        return []
    y, x = np.array(rows).T
    return [ax.vlines(x, y - 0.45, y + 0.45, colors=BASELINE_COLOUR, linestyles=BASELINE_STYLE,
                      lw=1.5, gid=f"baseline-{found.baseline.key}", zorder=5)]


def _baseline_handle() -> plt.Line2D:
    return plt.Line2D([], [], color=BASELINE_COLOUR, ls=BASELINE_STYLE)


def baselines_caption(shown: dict[str, MetricKey], what: str) -> str:
    """' Dashed <what>: the mean-image baseline recon_mse_mean_image for recon_mse (final),
    the floor to beat; ...' for the metrics (column names) whose baseline a figure drew."""
    if not shown:
        return ""
    parts = []
    for metric, found in shown.items():
        assert found.baseline is not None
        role = "the floor to beat" if found.baseline.floor else "its ceiling"
        parts.append(f"the {found.baseline.name} {found.baseline.key} for {metric} ({role})")
    return f" Dashed {what}: " + "; ".join(parts) + "."


def _present(ctx: Context, frame: pd.DataFrame) -> list[str]:
    present = set(frame["label"])
    return [lab for lab in ctx.labels if lab in present]


def _config_legend(fig: plt.Figure, labels: list[str], palette: dict) -> None:
    """One legend of the configs beside the panels (covers configs absent from a panel)."""
    handles = [plt.Line2D([], [], color=palette[lab]) for lab in labels]
    fig.legend(handles, labels, title="config", loc="upper left", bbox_to_anchor=(1.0, 0.95),
               frameon=False)


def _lines(ctx: Context, keys: list[str], ylabel: str = "") -> plt.Figure | None:
    """One panel per key: value against step, one line and seed band per config."""
    parts = [(k, ctx.history[ctx.history["key"] == k]) for k in keys]
    parts = [(k, p) for k, p in parts if not p.empty]
    if not parts:
        return None
    height = max(4.0, 0.22 * len(ctx.labels) + 1.0)  # room for the legend beside the panels
    fig, axes = plt.subplots(1, len(parts), figsize=(5.5 * len(parts), height), squeeze=False)
    for ax, (key, part) in zip(axes[0], parts, strict=True):
        # mean and sample std over seeds at each step (what sns.lineplot(errorbar="sd")
        # draws, computed in one groupby: ~10x faster on 100 runs)
        stats = part.groupby(["label", "step"])["value"].agg(["mean", "std"])
        for label in _present(ctx, part):
            band = stats.loc[label]
            ax.plot(band.index, band["mean"], color=ctx.palette[label])
            ax.fill_between(band.index, band["mean"] - band["std"], band["mean"] + band["std"],
                            color=ctx.palette[label], alpha=0.2, lw=0)
        found = declared(key)
        if found is not None and found.baseline is not None:
            levels = ctx.baseline_levels(found.baseline.key, ctx.configs.frame["label"])
            present = _present(ctx, part)
            baseline_lines(ax, found, {k: v for k, v in levels.items() if k in present},
                           ctx.palette)
        ax.set(title=key, xlabel="training step", ylabel=ylabel or key)
    fig.tight_layout()
    _config_legend(fig, _present(ctx, pd.concat([p for _, p in parts])), ctx.palette)
    return fig


def _headline_baseline_note(ctx: Context) -> str:
    found = declared(ctx.headline)
    if found is None or found.baseline is None or not (
            ctx.baselines["metric"] == found.baseline.key).any():
        return ""
    return baselines_caption({ctx.headline: found},
                             "line, mean over seeds (one per config where they differ)")


def draw_losses(ctx: Context) -> tuple[plt.Figure, str] | str:
    fig = _lines(ctx, ["loss_d", "loss_g"], "loss")
    if fig is None:
        return "no run logged loss_d or loss_g"
    return fig, f"Discriminator and generator losses against steps ({BAND})."


def draw_headline_steps(ctx: Context) -> tuple[plt.Figure, str] | str:
    fig = _lines(ctx, [ctx.headline])
    if fig is None:
        return f"no run logged {ctx.headline}"
    return fig, (f"{ctx.headline_title}{ctx.headline_about} against training steps ({BAND})."
                 + _headline_baseline_note(ctx))


Curves = dict[str, list[tuple[np.ndarray, np.ndarray]]]


def _curves_against(ctx: Context, x_key: str, y_key: str) -> Curves:
    """Per config label, each run's (x, y) curve of history key `y_key` against a compute axis
    `x_key` (CPU time, gradient evaluations); x is interpolated at the steps of y because the
    two are logged at different intervals (losses and times every log_every, metrics every
    eval_every)."""
    hist = ctx.history
    curves: Curves = {}
    for _, run in hist[hist["key"].isin([y_key, x_key])].groupby("run_id"):
        ys, along = run[run["key"] == y_key], run[run["key"] == x_key]
        if ys.empty or along.empty:
            continue
        x = np.interp(ys["step"], along["step"], along["value"])
        order = np.argsort(x, kind="stable")
        curves.setdefault(run["label"].iloc[0], []).append((x[order],
                                                            ys["value"].to_numpy()[order]))
    return curves


def band_on_grid(curves: list[tuple[np.ndarray, np.ndarray]],
                 points: int = GRID_POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate each seed's curve onto a common x grid (NaN outside its own range) and
    return grid, mean and sample std (NaN where fewer than two seeds reach). Seeds evaluated
    at one and the same x only (a metric scored once, at the end) give a grid of that x."""
    lo = min(x[0] for x, _ in curves)
    hi = max(x[-1] for x, _ in curves)
    grid = np.linspace(lo, hi, points) if hi > lo else np.array([lo])
    ys = np.stack([np.interp(grid, x, y, left=np.nan, right=np.nan) for x, y in curves])
    count = np.sum(~np.isnan(ys), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(ys, axis=0) / count
        dev = np.nansum((ys - mean) ** 2, axis=0) / (count - 1)
    mean[count == 0] = np.nan
    std = np.where(count >= 2, np.sqrt(dev), np.nan)
    return grid, mean, std


def _draw_bands(ax: plt.Axes, ctx: Context, curves: Curves, found: MetricKey | None,
                scale: float = 1.0) -> bool:
    """Each config's seed band of `curves` (x divided by `scale`), then the declared metric's
    baseline over the configs drawn; whether a baseline was drawn. A config whose seeds were
    scored at one x only is a dot with its ± 1 std bar."""
    for label in [lab for lab in ctx.labels if lab in curves]:
        grid, mean, std = band_on_grid(curves[label])
        colour = ctx.palette[label]
        if grid.size == 1:
            ax.errorbar(grid / scale, mean, yerr=np.nan_to_num(std), fmt="o", color=colour,
                        capsize=3, label=label)
            continue
        ax.plot(grid / scale, mean, color=colour, label=label)
        ax.fill_between(grid / scale, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
    if found is None or found.baseline is None:
        return False
    levels = ctx.baseline_levels(found.baseline.key, ctx.configs.frame["label"])
    return bool(baseline_lines(ax, found, {k: v for k, v in levels.items() if k in curves},
                               ctx.palette))


def _draw_headline_against(ctx: Context, x_key: str, what: str,
                           unit_of: Callable[[float], tuple[float, str]]
                           ) -> tuple[plt.Figure, str] | str:
    key = ctx.headline
    curves = _curves_against(ctx, x_key, key)
    if not curves:
        return f"needs {key} and {x_key} histories; no run logged both"
    scale, xlabel = unit_of(max(x[-1] for runs in curves.values() for x, _ in runs))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    _draw_bands(ax, ctx, curves, declared(key), scale)
    ax.set(xlabel=xlabel, ylabel=key, title=f"{key} against {what}")
    fig.tight_layout()
    _config_legend(fig, [lab for lab in ctx.labels if lab in curves], ctx.palette)
    return fig, (f"each seed's curve is interpolated onto a common {what} grid; {BAND} where "
                 "two or more seeds reach." + _headline_baseline_note(ctx))


def draw_headline_cpu(ctx: Context) -> tuple[plt.Figure, str] | str:
    drawn = _draw_headline_against(
        ctx, "cpu_time_s", "CPU time",
        lambda longest: (60.0, "CPU time (minutes)") if longest >= 120
        else (1.0, "CPU time (seconds)"))
    if isinstance(drawn, str):
        return drawn
    return drawn[0], (f"{ctx.headline_title} against CPU time (process time of the training "
                      "run, machine-dependent), as in the seed report's Figure 14: " + drawn[1])


def draw_headline_grad_evals(ctx: Context) -> tuple[plt.Figure, str] | str:
    drawn = _draw_headline_against(ctx, GRAD_EVALS, "gradient evaluations",
                                   lambda longest: (1.0, "gradient evaluations"))
    if isinstance(drawn, str):
        return drawn
    return drawn[0], (f"{ctx.headline_title} against gradient evaluations ({GRAD_EVALS_COST}), "
                      "the compute-matched axis, the same on every machine: " + drawn[1])


def metric_histories(ctx: Context) -> tuple[pd.DataFrame, dict[str, MetricKey]]:
    """The history with every declared live metric's key renamed to its panel name (the summary
    column without ` (final)`: FID/KID/IS and prdc carry their extractor and sample counts, so
    numbers made with other settings never share a panel), and panel name -> declaration in the
    summary's column order (recon_mse first). Other keys (the compute axes) are kept as they are."""
    hist = ctx.history
    keys = [k for k in hist["key"].unique() if base_key(k) == k and declared(k) is not None]
    pairs = hist.loc[hist["key"].isin(keys), ["run_id", "key"]].drop_duplicates()
    if pairs.empty:
        return hist, {}
    names = [tables.metric_label(k, ctx.data.params.loc[r]).removesuffix(" (final)")
             for r, k in pairs.itertuples(index=False)]
    found = {name: declared(k) for name, k in zip(names, pairs["key"], strict=True)}
    order = sorted(found, key=lambda name: (not found[name].best, position(found[name]), name))
    renamed = pairs.assign(panel=names).set_index(["run_id", "key"])["panel"]
    at = pd.MultiIndex.from_frame(hist[["run_id", "key"]])
    panel = renamed.reindex(at).to_numpy()
    hist = hist.assign(key=np.where(pd.isna(panel), hist["key"].to_numpy(), panel))
    return hist, {name: found[name] for name in order}


def draw_metrics_grad_evals(ctx: Context) -> tuple[plt.Figure, str] | str:
    """Every declared metric of the live networks against gradient evaluations."""
    hist, found = metric_histories(ctx)
    if not found:
        return "no run logged the history of a declared metric"
    sub = replace(ctx, history=hist)
    curves = {name: c for name in found if (c := _curves_against(sub, GRAD_EVALS, name))}
    missing = [name for name in found if name not in curves]
    if not curves:
        return (f"needs grad_evals beside a metric's history; no run logged grad_evals with "
                f"{', '.join(missing)}")
    cols = min(PANEL_COLUMNS, len(curves))
    rows = math.ceil(len(curves) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 3.6 * rows), squeeze=False)
    shown: dict[str, MetricKey] = {}
    for ax, (name, panel) in zip(axes.flat, curves.items(), strict=False):
        if _draw_bands(ax, sub, panel, found[name]):
            shown[name] = found[name]
        ax.set(title=f"{name} against gradient evaluations", xlabel="gradient evaluations",
               ylabel=name)
        ax.title.set_fontsize(9)
    for ax in axes.flat[len(curves):]:
        ax.set_visible(False)
    fig.tight_layout()
    _config_legend(fig, [lab for lab in ctx.labels if any(lab in c for c in curves.values())],
                   ctx.palette)
    skipped = (f" Not drawn, no run logged them with grad_evals: {', '.join(missing)}."
               if missing else "")
    return fig, ("Every metric the runs logged at their evaluation steps against gradient "
                 f"evaluations ({GRAD_EVALS_COST}), the compute-matched axis: one panel per "
                 "metric, FID/KID/IS and prdc one per extractor and sample counts (never mixed); "
                 "live networks only (averaged-params metrics are in the final-metric figure). "
                 "Each seed's curve is interpolated onto a common grid; "
                 f"{BAND} where two or more seeds reach; a metric scored once is a dot with its "
                 "± 1 std bar." + baselines_caption(
                     shown, "lines, mean over seeds (one per config where they differ)")
                 + skipped)


def draw_fid_steps(ctx: Context) -> tuple[plt.Figure, str] | str:
    hist = ctx.history[ctx.history["key"].astype(str).str.startswith(HISTORY_PREFIXES)].copy()
    if hist.empty:
        return "no run logged a fid_<extractor> history"
    pairs = hist[["run_id", "key"]].drop_duplicates()
    names = {(r, k): tables.metric_label(k, ctx.data.params.loc[r])
             for r, k in pairs.itertuples(index=False)}
    hist["key"] = [names[(r, k)] for r, k in zip(hist["run_id"], hist["key"], strict=True)]
    sub = replace(ctx, history=hist)
    fig = _lines(sub, sorted(hist["key"].unique()), "FID")
    return fig, ("FID against training steps, one panel per extractor and sample counts "
                 f"(never mixed) ({BAND}).")


def _category_columns(ctx: Context) -> tuple[str, str | None]:
    """Optimizer x stabilizer when that pair identifies the configs, else the config label."""
    params = ctx.config_params()
    have = [p for p in (OPTIMIZER_PARAM, STABILIZER_PARAM) if p in params.columns]
    if have and len(params[have].drop_duplicates()) == len(params):
        return have[0], (have[1] if len(have) == 2 else None)
    return "label", None


def _ordered(values: pd.Series) -> list[str]:
    return list(dict.fromkeys(values.dropna()))


def draw_finals(ctx: Context) -> tuple[plt.Figure, str] | str:
    counted = ctx.finals[ctx.finals["counted"]]
    if counted.empty:
        return "no finished run logged a final metric"
    cat, hue = _category_columns(ctx)
    params = ctx.config_params().reindex(ctx.configs.frame.index)  # C1, C2, ... order
    params["label"] = ctx.configs.frame["label"]
    frame = counted.assign(**{c: counted["config"].map(params[c]) for c in {cat, hue} - {None}})
    order = _ordered(params[cat])
    hue_order = _ordered(params[hue]) if hue else None
    colours = dict(zip(hue_order, sns.color_palette(n_colors=len(hue_order)), strict=True)
                   ) if hue_order else None
    declared_columns = tables.declarations(ctx.finals)
    metrics = [m for m in tables.metric_order(frame)
               if m not in declared_columns or declared_columns[m].plotted]
    shown: dict[str, MetricKey] = {}
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols + 2, rows * (1.4 + 0.45 * len(
        order))), squeeze=False, sharey=True, layout="constrained")
    for i, (ax, metric) in enumerate(zip(axes.flat, metrics, strict=False)):
        part = frame[frame["metric"] == metric]
        common = {"x": "value", "y": cat, "hue": hue, "order": order, "hue_order": hue_order,
                  "palette": colours, "ax": ax, "legend": False}
        sns.boxplot(part, fill=False, showfliers=False, **common)
        sns.stripplot(part, dodge=hue is not None, **common)
        found = declared_columns.get(metric)
        if found is not None and found.baseline is not None:
            levels = ctx.baseline_levels(found.baseline.key, params[cat])
            if baseline_ticks(ax, found, levels, order):
                shown[metric] = found
        ax.set(title=metric, xlabel="", ylabel=cat if i % cols == 0 else "")
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    handles, names = [], []
    if hue_order:
        handles = [plt.Line2D([], [], marker="o", ls="", color=colours[h]) for h in hue_order]
        names = list(hue_order)
    if shown:
        handles.append(_baseline_handle())
        names.append("baseline")
    if handles:
        fig.legend(handles, names, title=hue, loc="outside right upper", frameon=False)
    by = f"{cat} x {hue}" if hue else cat
    return fig, (f"Final metrics per {by}: one dot per finished seed, boxes over seeds "
                 "(diverged runs excluded, see the divergence figure)."
                 + baselines_caption(shown, "ticks, each row's mean over its seeds"))


def draw_lr(ctx: Context) -> tuple[plt.Figure, str] | str:
    params = ctx.config_params()
    lrs = [p for p in LR_PARAMS if p in params.columns and params[p].nunique() > 1]
    if not lrs:
        return "the runs do not vary optim.lr_g or optim.lr_d"
    counted = ctx.finals[ctx.finals["counted"]]
    headline = {m for m in counted.loc[counted["key"] == ctx.headline, "metric"]
                if not m.endswith(" (best)")}  # its final columns, as MetricKey names them
    metrics = [m for m in tables.metric_order(counted)
               if m in headline or m.startswith("fid_")]
    if not metrics:
        return f"no finished run logged {ctx.headline} or fid_<extractor>"
    declared_columns = tables.declarations(ctx.finals)
    shown: dict[str, MetricKey] = {}
    hue = OPTIMIZER_PARAM if OPTIMIZER_PARAM in params.columns else None
    hue_order = _ordered(params[hue].reindex(ctx.configs.frame.index)) if hue else None
    colours = dict(zip(hue_order, sns.color_palette(n_colors=len(hue_order)), strict=True)
                   ) if hue_order else None
    fig, axes = plt.subplots(len(lrs), len(metrics), figsize=(4.5 * len(metrics) + 2,
                                                              3.6 * len(lrs)),
                             squeeze=False, layout="constrained")
    for i, lr in enumerate(lrs):
        for j, metric in enumerate(metrics):
            part = counted[counted["metric"] == metric]
            part = part.assign(**{c: part["config"].map(params[c]) for c in {lr, hue} - {None}})
            part[lr] = part[lr].astype(float)
            sns.lineplot(part, x=lr, y="value", hue=hue, hue_order=hue_order, palette=colours,
                         marker="o", errorbar="sd", ax=axes[i][j], legend=False)
            found = declared_columns.get(metric)
            if found is not None and found.baseline is not None:
                levels = ctx.baseline_levels(found.baseline.key, ctx.configs.frame["label"])
                if baseline_lines(axes[i][j], found, levels):
                    shown[metric] = found
            axes[i][j].set(xscale="log", title=f"{metric} vs {lr}", ylabel=metric)
    if hue_order:
        handles = [plt.Line2D([], [], marker="o", color=colours[h]) for h in hue_order]
        fig.legend(handles, hue_order, title=hue, loc="outside right upper", frameon=False)
    return fig, ("Sensitivity to the learning rate: final metrics against the step size (log "
                 f"scale), per optimizer; {BAND} (finished runs; other params averaged over)."
                 + baselines_caption(shown, "lines"))


def draw_divergence(ctx: Context) -> tuple[plt.Figure, str] | str:
    frame = ctx.configs.frame
    share = frame.assign(share=frame["diverged"] / frame["runs"])[["label", "share"]]
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.4 * len(frame)))
    sns.barplot(share, x="share", y="label", hue="label", palette=ctx.palette, ax=ax,
                legend=False)
    for patch, (k, n) in zip(ax.patches, zip(frame["diverged"], frame["runs"], strict=True),
                             strict=False):
        ax.annotate(f" {k}/{n}", (patch.get_width(), patch.get_y() + patch.get_height() / 2),
                    va="center")
    ax.set(xlim=(0, 1.15), xlabel="share of runs diverged", ylabel="config")
    return fig, "Share of each config's runs that diverged (tag outcome=diverged), k/n runs."


# What a figure compares on, as its caption says it; `{budget}`: ' (<the runs' budgets>)'.
STEPS_AXIS = ("X axis: training steps (updates, whose cost in gradient evaluations differs by "
              "scheme)")
GRAD_EVALS_AXIS = "X axis: gradient evaluations (compute-matched, the same on every machine)"
CPU_AXIS = "X axis: CPU time (process time, machine-dependent)"
FINAL_AXIS = "Values at the end of each run's budget{budget}"
AXES = {"steps": STEPS_AXIS, "grad_evals": GRAD_EVALS_AXIS, "cpu": CPU_AXIS,
        "final": FINAL_AXIS, "lr": "X axis: learning rate; values at the end of each run's "
        "budget{budget}", "budget": "Over each run's whole budget{budget}"}


class Drawer(NamedTuple):
    """One figure of the page: its title, how to draw it, and which axis (key of AXES)."""

    title: str
    draw: Callable[[Context], tuple[plt.Figure, str] | str]
    axis: str


# `{headline}` in a title: the headline metric's `title` (`Context.headline_title`).
DRAWERS: dict[str, Drawer] = {
    "losses": Drawer("Discriminator and generator losses", draw_losses, "steps"),
    "recon_cpu": Drawer("{headline} against CPU time", draw_headline_cpu, "cpu"),
    "recon_grad_evals": Drawer("{headline} against gradient evaluations",
                               draw_headline_grad_evals, "grad_evals"),
    "metrics_grad_evals": Drawer("Every metric against gradient evaluations",
                                 draw_metrics_grad_evals, "grad_evals"),
    "recon_steps": Drawer("{headline} against steps", draw_headline_steps, "steps"),
    "fid_steps": Drawer("FID against steps", draw_fid_steps, "steps"),
    "finals": Drawer("Final metrics per optimizer and stabilizer", draw_finals, "final"),
    "lr": Drawer("Sensitivity to the learning rate", draw_lr, "lr"),
    "divergence": Drawer("Diverged runs per config", draw_divergence, "budget"),
}


def draw_all(ctx: Context, out: Path, folder: str = "plots") -> list[Figure]:
    """Draw every figure into out/folder as PNG and SVG; skipped ones say why."""
    (out / folder).mkdir(parents=True, exist_ok=True)
    budget = tables.budgets(ctx.data.params)
    budget = f" ({budget})" if budget else ""
    figures = []
    with sns.axes_style("whitegrid"):
        for name, (title, draw, axis) in DRAWERS.items():
            title = title.format(headline=ctx.headline_title)
            drawn = draw(ctx)
            files = tuple(f"{folder}/{name}.{ext}" for ext in ("png", "svg"))
            if isinstance(drawn, str):
                for rel in files:  # an earlier report's figure would no longer be true
                    (out / rel).unlink(missing_ok=True)
                figures.append(Figure(name, title, "", skipped=drawn))
                continue
            fig, caption = drawn
            for rel in files:
                fig.savefig(out / rel, dpi=100, bbox_inches="tight")
            plt.close(fig)
            figures.append(Figure(name, title, caption, files,
                                  axis=AXES[axis].format(budget=budget)))
    return figures
