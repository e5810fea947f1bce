"""Comparisons against a reference, end to end from real MLflow stores: a case with a known
answer (8 seeds a side, configs that truly differ), one that cannot be decided (3 seeds), the
design read from the runs' tags or the command line, and runs.parquet rebuilding the report
byte for byte with no store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_store import Logged, Spec, log_experiment

from benchmark.report import main
from benchmark.reporting.runs_file import FILE_NAME

STEPS = (0, 50, 100)
LEVEL = {"R": 0.050, "X": 0.030}  # recon_mse: X is truly better (lower) than the reference R


def _histories(spec: Spec, rng: np.random.Generator) -> dict[str, list[tuple[int, float]]]:
    level = LEVEL[spec.config]
    return {
        "loss_d": [(s, float(1.4 - s / 200)) for s in STEPS],
        "loss_g": [(s, float(0.7 + s / 200)) for s in STEPS],
        "cpu_time_s": [(s, float(s + 1)) for s in STEPS],
        "grad_evals": [(s, float(2 * s)) for s in STEPS],
        "recon_mse": [(s, float(level + rng.normal(0, 0.002))) for s in STEPS],
        "untrained_recon_mse": [(0, 0.09)],
    }


def _store(root: Path, seeds: int, tags: dict[str, str] | None = None) -> Logged:
    specs = tuple(Spec(c, s, optim, "none", panels=()) for c, optim in (("R", "adam"),
                                                                      ("X", "sgd"))
                  for s in range(seeds))
    design = {"alibench.reference_config": "ck-R"} if tags is None else tags
    return log_experiment(root, specs=specs, design_tags=design, histories=_histories)


def _report(logged: Logged, out: Path, *extra: str) -> pd.DataFrame:
    code = main(["--experiment", "repro", "--tracking-uri", logged.uri, "--out", str(out),
                 *extra])
    assert code == 0
    return pd.read_csv(out / "comparisons.csv")


@pytest.mark.slow
def test_a_true_difference_with_eight_seeds_is_found(tmp_path: Path) -> None:
    table = _report(_store(tmp_path / "store", 8), tmp_path / "report")
    row = table[table["metric"] == "recon_mse (final)"].iloc[0]
    assert (row["config_a"], row["n_a"], row["n_b"]) == ("C1", 8, 8)  # C1: R, the reference
    assert row["verdict"] == "better"
    assert row["diff"] < 0 and row["diff ci95 high"] < 0  # the interval excludes 0
    assert row["p_improvement"] > 0.95 and row["p_improvement ci95 low"] > 0.8
    assert row["p_holm"] <= 0.05 and row["p_floor"] == pytest.approx(2 / 12870)
    summary = pd.read_csv(tmp_path / "report" / "summary.csv")
    for column in ("recon_mse (final)", "untrained_recon_mse"):
        low, high = summary[f"{column} ci95 low"], summary[f"{column} ci95 high"]
        assert (low <= summary[f"{column} mean"]).all() and (summary[f"{column} mean"]
                                                             <= high).all()
    text = (tmp_path / "report" / "comparisons.md").read_text()
    assert "8 vs 8 seeds: 0.00016" in text and "| better |" in text
    assert "Warning" not in text  # 8 seeds: no config below the study's 5


@pytest.mark.slow
def test_three_seeds_a_side_cannot_decide(tmp_path: Path) -> None:
    table = _report(_store(tmp_path / "store", 3), tmp_path / "report")
    row = table[table["metric"] == "recon_mse (final)"].iloc[0]
    assert row["p_value"] == pytest.approx(0.1)  # fully separated: the best 3 vs 3 can do
    assert row["p_floor_holm"] == pytest.approx(0.1)
    assert row["verdict"] == "underpowered"
    assert (table["verdict"] != "no difference detected").all()
    for name in ("comparisons.md", "README.md", "index.html"):
        text = (tmp_path / "report" / name).read_text()
        assert "3 vs 3 seeds: 0.1, 0.1 after Holm over 1 comparison (underpowered" in text, name
        assert "has 3 finished seed(s); a study config has at least 5" in text, name


@pytest.mark.slow
def test_the_command_line_design_overrides_the_runs_and_a_bad_one_writes_nothing(
        tmp_path: Path) -> None:
    logged = _store(tmp_path / "store", 3, tags={})  # no design recorded
    table = _report(logged, tmp_path / "none")
    assert table.empty
    assert "No reference config" in (tmp_path / "none" / "comparisons.md").read_text()
    table = _report(logged, tmp_path / "sgd", "--reference", "optim.name=sgd")
    assert table[["config_a", "config_b"]].drop_duplicates().values.tolist() == [["C2", "C1"]]
    out = tmp_path / "bad"
    assert main(["--experiment", "repro", "--tracking-uri", logged.uri, "--out", str(out),
                 "--reference", "optim.name=rmsprop"]) == 2
    assert not out.exists()


def test_a_reference_that_matches_no_config_is_one_line(logged: Logged, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "r"
    code = main(["--experiment", "repro", "--tracking-uri", logged.uri, "--out", str(out),
                 "--reference", "optim.name=rmsprop"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.startswith("error: reference: optim.name=rmsprop matches no config of the runs; "
                          "configs: C1 (") and err.count("\n") == 1
    code = main(["--experiment", "repro", "--tracking-uri", logged.uri, "--out", str(out),
                 "--reference", "data.dataset=mnist"])
    assert code == 2 and "matches 3 configs" in capsys.readouterr().err


def test_the_session_report_compares_with_the_reference_its_runs_record(report: Path) -> None:
    table = pd.read_csv(report / "comparisons.csv")
    assert table[["config_a", "config_b"]].drop_duplicates().values.tolist() == [["C1", "C2"]]
    assert set(table["verdict"]) == {"underpowered"}  # 3 vs 3 seeds
    assert {"diff ci95 low", "diff ci95 high", "p_improvement", "p_holm"} <= set(table.columns)
    text = (report / "comparisons.md").read_text()
    assert text.startswith("Reference: C1 (") and "underpowered" in text


def test_runs_parquet_rebuilds_the_report_byte_for_byte(report: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    """The session report was built from MLflow; its runs.parquet alone rebuilds it."""
    out = tmp_path / "again"
    assert main(["--runs", str(report / FILE_NAME), "--out", str(out)]) == 0
    for name in ("summary.csv", "comparisons.csv", FILE_NAME):
        assert (out / name).read_bytes() == (report / name).read_bytes(), name
    page = (out / "index.html").read_text()
    assert "Built from runs.parquet, with no MLflow store: image panels" in page
    assert not (out / "panels").exists()
    frame = pd.read_parquet(report / FILE_NAME)
    # every key's full history, not only the plotted ones: the baselines and wall time too
    metric = frame[frame["kind"] == "metric"]
    assert {"wall_time_s", "untrained_recon_mse", "knn_acc_random"} <= set(metric["key"])
    assert len(metric[(metric["key"] == "loss_d")]) == 3 * 11 + 3 * 11 + 5 + 11
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    capsys.readouterr()
    assert main(["--runs", str(bad), "--out", str(tmp_path / "never")]) == 2
    assert capsys.readouterr().err.startswith("error: --runs: cannot read")
    assert not (tmp_path / "never").exists()
