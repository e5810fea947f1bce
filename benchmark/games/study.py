"""The bilinear validation study: every method, its step size tuned on the same grid, then
confirmed on fresh seeds; a table of verdicts beside the published behaviour, and one figure.

    python -m benchmark.games --out results/bilinear

The deterministic game is played at the textbook step 0.1 by every method (the published claims
hold at any small constant step, and a game without noise has nothing for tuning to average
over). On the stochastic game each method plays each step size of its setting's `lrs` on the
tuning seeds; the step size with the smallest median final distance wins (a diverged play counts
as infinitely far), the same grid and budget for every method. Confirmation: the winner plays
`confirm_seeds` seeds that tuning never used. A verdict reads the median relative
distance (final / start): `converges` below CONVERGED, `diverges` above DIVERGED (or a
non-finite play), otherwise `neither` (cycles or stalls in a neighbourhood).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.errors import OneLineParser
from benchmark.games.bilinear import DETERMINISTIC, STOCHASTIC, BilinearSpec
from benchmark.games.methods import METHODS
from benchmark.games.play import Play, play

CURVE_EVERY = 100  # curves.csv keeps the distance at every 100th gradient evaluation
CONVERGED = 0.05
DIVERGED = 2.0


@dataclass(frozen=True)
class Setting:
    """How one game is played: its budget in gradient evaluations and its seeds."""

    spec: BilinearSpec
    budget: int
    lrs: tuple[float, ...]
    tune_seeds: tuple[int, ...]
    confirm_seeds: tuple[int, ...]


SETTINGS = (
    Setting(DETERMINISTIC, budget=5_000, lrs=(0.1,), tune_seeds=(0,), confirm_seeds=(100,)),
    Setting(STOCHASTIC, budget=20_000, lrs=(0.01, 0.03, 0.1, 0.3), tune_seeds=(0,),
            confirm_seeds=(100, 101, 102, 103, 104)),
)


def verdict(relative: float) -> str:
    if not math.isfinite(relative) or relative > DIVERGED:
        return "diverges"
    return "converges" if relative < CONVERGED else "neither (cycles or stalls)"


def agrees(expected: str, measured: str) -> bool | None:
    """Whether a measured verdict is the published behaviour: converges where it should, and
    does not where the literature says it does not (diverging, cycling or a noise ball); None
    where nothing is published to agree with."""
    if expected.startswith("unpublished"):
        return None
    if expected.startswith("converges"):
        return measured == "converges"
    if expected.startswith("diverges"):
        return measured == "diverges"
    return measured != "converges"


def median_relative(plays: list[Play]) -> float:
    return float(np.median([p.relative for p in plays]))


def tune(method: str, setting: Setting) -> tuple[float, pd.DataFrame]:
    """The step size with the smallest median relative distance over the tuning seeds."""
    rows = []
    if len(setting.lrs) == 1:
        return setting.lrs[0], pd.DataFrame(rows)
    for lr in setting.lrs:
        plays = [play(method, setting.spec, lr, s, setting.budget) for s in setting.tune_seeds]
        rows.append({"method": method, "game": setting.spec.name, "lr": lr,
                     "median_relative": median_relative(plays)})
    table = pd.DataFrame(rows)
    best = table.sort_values(["median_relative", "lr"], kind="stable").iloc[0]
    return float(best["lr"]), table


def run(out: Path, methods: list[str], scale: float = 1.0) -> None:
    """Tune, confirm, and write summary.csv/.md, tuning.csv, curves.csv and distances.png."""
    summary, tuning, curves = [], [], []
    for setting in SETTINGS:
        setting = Setting(setting.spec, max(2, int(setting.budget * scale)), setting.lrs,
                          setting.tune_seeds, setting.confirm_seeds)
        for name in methods:
            method = METHODS.get(name)
            lr, table = tune(name, setting)
            tuning.append(table)
            plays = [play(name, setting.spec, lr, s, setting.budget)
                     for s in setting.confirm_seeds]
            rel = [p.relative for p in plays]
            expected = (method.expected if setting.spec.batch == 0
                        else method.expected_stochastic)
            measured = verdict(float(np.median(rel)))
            summary.append({
                "game": setting.spec.name, "method": name, "label": method.label,
                "optimizer": method.optimizer, "scheme": method.scheme,
                "lookahead_k": method.lookahead_k, "average": method.average, "lr": lr,
                "grad_evals": setting.budget, "seeds": len(plays),
                "relative_median": float(np.median(rel)), "relative_min": float(np.min(rel)),
                "relative_max": float(np.max(rel)), "measured": measured,
                "expected": expected, "agrees": agrees(expected, measured),
                "source": method.source})
            for p in plays:
                curves.append(pd.DataFrame({"game": setting.spec.name, "method": name,
                                            "seed": p.seed, "grad_evals": p.evaluations,
                                            "relative": p.distances / p.start}))
    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(summary)
    table.to_csv(out / "summary.csv", index=False)
    pd.concat(tuning, ignore_index=True).to_csv(out / "tuning.csv", index=False)
    long = pd.concat(curves, ignore_index=True)
    thin = long[(long["grad_evals"] % CURVE_EVERY == 0)]  # keeps the file small
    thin.to_csv(out / "curves.csv", index=False)
    (out / "summary.md").write_text(_markdown(table))
    _figure(long, table, out / "distances.png")


def _markdown(table: pd.DataFrame) -> str:
    lines = []
    for game, part in table.groupby("game", sort=False):
        lines += [f"### {game}: {int(part['grad_evals'].iloc[0])} gradient evaluations, "
                  f"{int(part['seeds'].iloc[0])} confirmation seed(s)", "",
                  "| method | lr | final / start distance, median [min, max] | measured | "
                  "expected (literature) | agrees |", "|---|---|---|---|---|---|"]
        for row in part.itertuples():
            lines.append(f"| {row.label} | {row.lr:g} | {row.relative_median:.3g} "
                         f"[{row.relative_min:.3g}, {row.relative_max:.3g}] | {row.measured} | "
                         f"{row.expected} | {_agreement(row.agrees)} |")
        lines.append("")
    return "\n".join(lines)


def _agreement(agrees: bool | None) -> str:
    return "n/a" if agrees is None or agrees != agrees else ("yes" if agrees else "**no**")


def _figure(long: pd.DataFrame, table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    games = list(table["game"].unique())
    methods = list(table["method"].unique())
    colours = plt.get_cmap("tab20")
    styles = {m: (colours(i % 20), "-" if i % 2 == 0 else "--") for i, m in enumerate(methods)}
    fig, axes = plt.subplots(1, len(games), figsize=(8 * len(games), 6.5), squeeze=False)
    for ax, game in zip(axes[0], games, strict=True):
        part = long[long["game"] == game]
        for method, curve in part.groupby("method", sort=False):
            median = curve.groupby("grad_evals")["relative"].median()
            lr = table[(table["game"] == game) & (table["method"] == method)]["lr"].iloc[0]
            colour, style = styles[method]
            ax.plot(median.index, median.clip(upper=1e6).values, color=colour, ls=style,
                    label=f"{METHODS[method].label} (lr {lr:g})", lw=1.3)
        ax.set_yscale("log")
        ax.set_xlabel("gradient evaluations")
        ax.set_ylabel("distance to equilibrium / start (median over seeds)")
        ax.set_title(game)
        ax.axhline(1.0, color="grey", lw=0.6, ls=":")
        ax.legend(fontsize=6.5, loc="lower left", ncol=2, framealpha=0.85)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def redraw(out: Path) -> None:
    """The figure again from a study's own summary.csv and curves.csv (no play)."""
    _figure(pd.read_csv(out / "curves.csv"), pd.read_csv(out / "summary.csv"),
            out / "distances.png")


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmark.games", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder for the tables and the figure")
    p.add_argument("--methods", nargs="*", default=None, help="methods to play (default: all)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every budget by this (a quick look: 0.05)")
    args = p.parse_args(argv)
    methods = args.methods or METHODS.names()
    for name in methods:
        METHODS.get(name)  # an unknown method: one line listing the known ones
    run(Path(args.out), methods, args.scale)
    print(f"bilinear: {Path(args.out) / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
