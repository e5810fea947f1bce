"""Each config's image panels side by side, all from the same seed.

The seed is the smallest one present in every config, so the panels differ only by config.
If no seed is shared by all configs, each config shows its own smallest seed, and the page
says so. Panels are copied from MLflow's artifact store into the report folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.reporting.loading import RunStore

PANEL_FOLDER = "panels"
# artifact file stem -> column title; points data log `samples` instead of images
PANEL_KINDS = {
    "generation": "generation",
    "reconstruction": "reconstruction (top: data, bottom: G_x(G_z(x)))",
    "interpolation": "interpolation",
    "samples": "samples (points)",
}


@dataclass
class PanelRow:
    """The panels of one config: files relative to the report folder, by kind."""

    config: str
    label: str
    seed: int | None
    run_id: str
    outcome: str
    files: dict[str, str] = field(default_factory=dict)


def common_seed(runs: pd.DataFrame) -> int | None:
    """The smallest seed that every config has a run of (None if there is none)."""
    seeds = runs.dropna(subset=["seed"]).groupby("config")["seed"].apply(set)
    if len(seeds) < runs["config"].nunique():
        return None
    shared = set.intersection(*seeds) if len(seeds) else set()
    return int(min(shared)) if shared else None


def _pick_run(runs: pd.DataFrame, seed: int | None) -> pd.Series:
    """The config's run with `seed`, or else its smallest seed, preferring finished runs."""
    if seed is not None and (runs["seed"] == seed).any():
        runs = runs[runs["seed"] == seed]
    ranked = runs.assign(_unfinished=~runs["counted"]).sort_values(
        ["_unfinished", "seed", "start_time"], na_position="last")
    return ranked.iloc[0]


def collect(store: RunStore, runs: pd.DataFrame, out: Path,
            folder: str = PANEL_FOLDER) -> tuple[int | None, list[PanelRow]]:
    """Download every config's final panels into out/folder/<config>/; returns the shared seed
    (None when configs had to use different seeds) and one row per config."""
    seed = common_seed(runs)
    rows = []
    for config, group in runs.groupby("config", sort=False):
        run = _pick_run(group, seed)
        row = PanelRow(str(config), str(run["label"]), None if pd.isna(run["seed"]) else
                       int(run["seed"]), str(run.name), str(run["outcome"]))
        present = set(store.artifact_paths(row.run_id, PANEL_FOLDER))
        for kind in PANEL_KINDS:
            path = f"{PANEL_FOLDER}/{kind}.png"
            if path in present:
                rel = f"{folder}/{config}/{kind}.png"
                store.download(row.run_id, path, out / rel)
                row.files[kind] = rel
        rows.append(row)
    rows.sort(key=lambda r: int(r.config[1:]) if r.config[1:].isdigit() else r.config)
    return seed, rows
