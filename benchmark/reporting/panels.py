"""Each config's image panels side by side, all from the same seed.

The seed is the smallest one that every config has a finished run of, so the panels differ
only by config and come from runs that wrote their final panels. (Choosing it over all runs let a
run still running, killed or failed win: its panels can be absent or half-written, and the page
showed broken images.) If no such seed is shared by all configs, each config shows its own
smallest seed, and the page says so. Panels are copied from MLflow's artifact store into the
report folder, and a copy that does not decode as an image is dropped, never linked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image, UnidentifiedImageError

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
    unreadable: list[str] = field(default_factory=list)  # kinds logged but not a valid image


def common_seed(runs: pd.DataFrame) -> int | None:
    """The smallest seed that every config has a finished run of (`counted`, when the frame
    says), else the smallest seed every config has any run of (None if there is none)."""
    if "counted" in runs.columns and not runs["counted"].all():
        finished = common_seed(runs[runs["counted"]].drop(columns="counted"))
        if finished is not None:
            return finished
    seeds = runs.dropna(subset=["seed"]).groupby("config")["seed"].apply(set)
    if len(seeds) < runs["config"].nunique():
        return None
    shared = set.intersection(*seeds) if len(seeds) else set()
    return int(min(shared)) if shared else None


def is_image(path: Path) -> bool:
    """Whether a file decodes as a whole image (a half-written PNG does not)."""
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return False


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
            rel = f"{folder}/{config}/{kind}.png"
            if path not in present:
                (out / rel).unlink(missing_ok=True)  # an earlier report's copy of another run
                continue
            if is_image(store.download(row.run_id, path, out / rel)):
                row.files[kind] = rel
            else:
                (out / rel).unlink()
                row.unreadable.append(kind)
        rows.append(row)
    rows.sort(key=lambda r: int(r.config[1:]) if r.config[1:].isdigit() else r.config)
    return seed, rows
