"""What a finished search leaves: every trial (trials.csv), each config's best setting and
objective (best.csv, best.md), the best-so-far objective against the number of trials with every
config on one plot (Lucic et al. 2018: does the ranking depend on the budget?), and a
confirmation grid rerunning each best setting on seeds tuning never used (confirm.yaml).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import yaml

from benchmark.tuning.engine import OUTCOME_ATTR
from benchmark.tuning.search import TuneGrid, config_values, with_values


def trial_rows(tune: TuneGrid, studies: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per trial of every config, in trial order."""
    rows = []
    for config in tune.configs:
        for t in studies[config.key].get_trials(deepcopy=False):
            rows.append({"config": config.label, "trial": t.number, "state": t.state.name.lower(),
                         "outcome": t.user_attrs.get(OUTCOME_ATTR, ""),
                         "value": t.value if t.value is not None else math.nan,
                         **{f"param.{k}": v for k, v in t.params.items()}})
    return rows


def best_so_far(values: list[float | None], higher_is_better: bool) -> list[float]:
    """The best finished objective after each trial (NaN until the first finished one);
    pruned and failed trials spend budget but set no best."""
    out, best = [], math.nan
    for value in values:
        if value is not None and math.isfinite(value) and (
                math.isnan(best) or (value > best if higher_is_better else value < best)):
            best = value
        out.append(best)
    return out


def _finished_values(study: Any) -> list[float | None]:
    return [t.value if t.state.name == "COMPLETE" else None
            for t in study.get_trials(deepcopy=False)]


def best_rows(tune: TuneGrid, studies: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for config in tune.configs:
        trials = studies[config.key].get_trials(deepcopy=False)
        finished = [t for t in trials if t.state.name == "COMPLETE"]
        counts = {s: sum(t.state.name.lower() == s for t in trials)
                  for s in ("complete", "pruned", "fail")}
        best = None
        if finished:
            pick = max if tune.search.higher_is_better else min
            best = pick(finished, key=lambda t: t.value)
        rows.append({"config": config.label, "trials": len(trials),
                     "finished": counts["complete"], "pruned": counts["pruned"],
                     "failed": counts["fail"], "best_trial": best.number if best else "",
                     tune.search.objective: best.value if best else math.nan,
                     **{f"param.{k}": v for k, v in (best.params if best else {}).items()}})
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)


def write_markdown(path: Path, tune: TuneGrid, rows: list[dict[str, Any]]) -> None:
    s = tune.search
    arrow = "↑" if s.higher_is_better else "↓"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = [f"# {tune.name}: best of {s.trials} trials per config", "",
             f"Objective {s.objective} {arrow} (mean over tuning seeds {s.seeds}); budget "
             f"{s.budget_key} = {s.budget} per run; pruner {s.pruner.name}"
             + (f" at {s.resource} {list(s.pruner.rungs)}" if s.pruner.rungs else "")
             + f"; TPE, sampler_seed {s.sampler_seed}.", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    path.write_text("\n".join(lines) + "\n")


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def plot_best_so_far(path: Path, tune: TuneGrid, studies: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for config in tune.configs:
        curve = best_so_far(_finished_values(studies[config.key]), tune.search.higher_is_better)
        ax.step(range(1, len(curve) + 1), curve, where="post", marker="o", markersize=3,
                label=config.label)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trials (finished, pruned or failed)")
    arrow = "higher is better" if tune.search.higher_is_better else "lower is better"
    ax.set_ylabel(f"best {tune.search.objective} so far ({arrow})")
    ax.set_title(f"{tune.name}: best objective against the search budget", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


DESIGN_KEYS = ("reference", "compare", "effects")  # carried from the tune grid to confirm.yaml


def confirmation_grid(tune: TuneGrid, studies: dict[str, Any]) -> dict[str, Any]:
    """A grid of each config's best setting (configs with no finished trial are left out) on
    `search.confirm_seeds`: the values all its runs share in `base`, the rest in `runs`."""
    best: list[dict[str, Any]] = []
    for config, row in zip(tune.configs, best_rows(tune, studies), strict=True):
        if row["best_trial"] == "":
            continue
        params = {k.removeprefix("param."): v for k, v in row.items() if k.startswith("param.")}
        best.append(_flat(config_values(with_values(config.cfg, params))))
    if not best:
        raise ValueError("no config has a finished trial")
    for values in best:
        values.pop("seed")
        values.pop("data.data_root", None)  # given with --data-root where the data is
    shared = {k: v for k, v in best[0].items() if all(k in b and b[k] == v for b in best)}
    grid = {"name": f"{tune.name}_confirm",
            "description": f"best settings of {tune.name} ({tune.search.trials} trials per "
                           f"config, objective {tune.search.objective}) on unseen seeds",
            "base": _nested(shared),
            "runs": [{k: v for k, v in b.items() if k not in shared} for b in best],
            "axes": {"seed": list(tune.search.confirm_seeds)}}
    # The comparison design the tune grid names: the confirmation is what it compares.
    grid.update({k: tune.raw[k] for k in DESIGN_KEYS if k in tune.raw})
    return grid


def _flat(values: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and key != "stabilizers":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def write_outputs(folder: Path, tune: TuneGrid, studies: dict[str, Any]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    write_csv(folder / "trials.csv", trial_rows(tune, studies))
    rows = best_rows(tune, studies)
    write_csv(folder / "best.csv", rows)
    write_markdown(folder / "best.md", tune, rows)
    plot_best_so_far(folder / "best_so_far.png", tune, studies)
    written += [folder / n for n in ("trials.csv", "best.csv", "best.md", "best_so_far.png")]
    if any(r["best_trial"] != "" for r in rows):
        confirm = folder / "confirm.yaml"
        header = (f"# Confirmation of {tune.name} (written by benchmark.tune): each config's "
                  f"best setting on seeds tuning never used.\n")
        confirm.write_text(header + yaml.safe_dump(confirmation_grid(tune, studies),
                                                   sort_keys=False))
        written.append(confirm)
    return written
