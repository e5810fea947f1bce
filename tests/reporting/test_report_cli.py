"""The report built through its CLI entry from a real MLflow store: files, numbers, verdicts."""

from __future__ import annotations

import html
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from PIL import Image, UnidentifiedImageError
from report_store import EXPERIMENT, GRID_YAML, Logged, Spec, log_experiment
from scipy import stats

from benchmark.report import main

CONFIG_OF_OPTIM = {"adam": "A", "extra_adam": "B", "sgd": "C"}
FIGURES = ("losses", "recon_cpu", "recon_grad_evals", "metrics_grad_evals", "recon_steps",
           "fid_steps", "finals", "lr", "divergence")


def _summary(report: Path) -> pd.DataFrame:
    table = pd.read_csv(report / "summary.csv", dtype={"optim.name": str})
    return table.set_index(table["optim.name"].map(CONFIG_OF_OPTIM))


def test_every_file_is_written(report: Path) -> None:
    names = ["summary.csv", "summary.md", "comparisons.csv", "comparisons.md",
             "references.csv", "index.html", "README.md", "runs.parquet"]
    names += [f"plots/{f}.{ext}" for f in FIGURES for ext in ("png", "svg")]
    names += [f"panels/C{i}/{k}.png" for i in (1, 2)
              for k in ("generation", "reconstruction", "interpolation")]
    names += ["panels/C3/generation.png", "panels/C3/reconstruction.png"]
    missing = [n for n in names if not (report / n).is_file() or (report / n).stat().st_size == 0]
    assert missing == []
    assert not (report / "panels/C3/interpolation.png").exists()  # C never logged one
    for png in report.glob("plots/*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


def test_summary_means_and_stds_equal_pandas(report: Path, logged: Logged) -> None:
    table = _summary(report)
    for config in ("A", "B", "C"):
        for column, key in (("recon_mse (final)", "recon_mse"),
                            ("modes_covered", "modes_covered"), ("probe_acc", "probe_acc"),
                            ("cpu_time_s (end)", "cpu_time_s")):
            values = pd.Series(logged.finals(config, key))
            assert table.at[config, f"{column} n"] == len(values), (config, column)
            assert table.at[config, f"{column} mean"] == pytest.approx(values.mean(), rel=1e-12)
            if len(values) > 1:
                assert table.at[config, f"{column} std"] == pytest.approx(values.std(), rel=1e-12)
            else:
                assert pd.isna(table.at[config, f"{column} std"])


def test_best_recon_is_the_history_minimum(report: Path, logged: Logged) -> None:
    table = _summary(report)
    best = pd.Series([min(v for _, v in logged.values[name]["recon_mse"])
                      for name, spec in logged.specs.items()
                      if spec.config == "A" and spec.outcome == "finished"])
    assert table.at["A", "recon_mse (best) mean"] == pytest.approx(best.mean(), rel=1e-12)
    assert table.at["A", "recon_mse (best) std"] == pytest.approx(best.std(), rel=1e-12)
    assert table.at["A", "recon_mse (best) mean"] < table.at["A", "recon_mse (final) mean"]


def test_counts_of_runs_divergence_and_collapse(report: Path) -> None:
    table = _summary(report)
    assert table.loc["B", ["runs", "n", "diverged", "collapsed"]].tolist() == [4, 3, 1, 0]
    assert table.loc["A", ["runs", "n", "diverged", "collapsed"]].tolist() == [3, 3, 0, 1]
    assert table.loc["C", ["runs", "n", "diverged", "collapsed"]].tolist() == [1, 1, 0, 0]


def test_fid_settings_are_never_mixed_in_one_column(report: Path, logged: Logged) -> None:
    table = _summary(report)
    full, small = "fid_classifier (1000 gen / 1000 real)", "fid_classifier (500 gen / 1000 real)"
    assert table.at["C", f"{full} n"] == 0 and table.at["C", f"{small} n"] == 1
    assert table.at["A", f"{small} n"] == 0
    assert table.at["C", f"{small} mean"] == pytest.approx(logged.finals("C", "fid_classifier")[0])
    assert table.at["B", f"{full} mean"] == pytest.approx(
        pd.Series(logged.finals("B", "fid_classifier")).mean(), rel=1e-12)


def test_varying_params_are_columns_and_paths_with_the_run_key_are_not(report: Path) -> None:
    columns = pd.read_csv(report / "summary.csv").columns
    for param in ("optim.name", "optim.lr_g", "stabilizers", "eval.fid_gen_count"):
        assert param in columns
    for constant in ("seed", "data.dataset", "optim.lr_d", "train.checkpoint_dir"):
        assert constant not in columns


def test_p_values_match_scipy_mannwhitneyu(report: Path, logged: Logged) -> None:
    table = pd.read_csv(report / "comparisons.csv")
    pairs = table[["config_a", "config_b"]].drop_duplicates().values.tolist()
    assert pairs == [["C1", "C2"]]  # C has one seed: shown in the summary, never tested
    for column, key in (("recon_mse (final)", "recon_mse"), ("modes_covered", "modes_covered"),
                        ("probe_acc", "probe_acc")):
        row = table[table["metric"] == column].iloc[0]
        # exact: modes_covered ties (whole numbers), where scipy's default would fall back to
        # the normal approximation; every split of the pooled seeds is the exact test then
        expected = stats.mannwhitneyu(logged.finals("A", key), logged.finals("B", key),
                                      alternative="two-sided",
                                      method=stats.PermutationMethod(n_resamples=10**6))
        assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-12), column
        assert row["statistic"] == pytest.approx(expected.statistic)
        assert (row["n_a"], row["n_b"]) == (3, 3)


def test_reference_band_verdicts(report: Path, logged: Logged) -> None:
    rows = pd.read_csv(report / "references.csv")
    verdicts = {}
    for config in ("A", "B"):
        mean = pd.Series(logged.finals(config, "modes_covered")).mean()
        verdicts[config] = "inside" if 13.4 - 5.8 <= mean <= 13.4 + 5.8 else "outside"
    assert verdicts == {"A": "inside", "B": "outside"}  # the fixture is built to test both
    modes = rows[rows["metric"] == "modes_covered"]
    assert modes["verdict"].tolist() == [verdicts["A"], verdicts["B"]]
    assert modes["config"].str.contains("adam").all()
    assert rows[rows["metric"] == "high_quality_frac"]["verdict"].tolist() == ["not measured"]


def broken_images(report: Path) -> list[str]:
    """Every image index.html or README.md shows that is not a file decoding as an image."""
    links = re.findall(r"<img[^>]*\ssrc=['\"]([^'\"]+)['\"]", (report / "index.html").read_text())
    links += re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (report / "README.md").read_text())
    assert links, "no image found on the page"
    broken = []
    for link in links:
        path = report / html.unescape(link)
        try:
            with Image.open(path) as image:
                image.load()
        except (OSError, UnidentifiedImageError):
            broken.append(link)
    return broken


def test_page_links_only_files_that_exist(report: Path) -> None:
    page = (report / "index.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    for figure in FIGURES:
        assert f"src='plots/{figure}.png'" in page
    assert "seed 0" in page and "All panels from seed 0" in page
    readme = (report / "README.md").read_text()
    assert "![Discriminator and generator losses](plots/losses.png)" in readme
    assert broken_images(report) == []


@pytest.mark.slow
def test_panels_come_from_finished_runs_and_broken_ones_are_never_linked(
        tmp_path: Path) -> None:
    """Issue 15's broken panels: seed 0 is shared by every config, but B's seed-0 run never
    finished and left its final panels half-written (a run killed while logging them); C's
    seed-1 run has one half-written panel. Seed 1 is the smallest with a finished run in
    every config, so the page shows seed 1, and C's broken panel is named, not linked."""
    every = ("generation", "reconstruction", "interpolation")
    specs = (Spec("A", 0, "adam", "none"), Spec("A", 1, "adam", "none"),
             Spec("B", 0, "extra_adam", "instance_noise(std=0.1)", outcome="running",
                  half_written=every),
             Spec("B", 1, "extra_adam", "instance_noise(std=0.1)"),
             Spec("C", 0, "sgd", "none", lr_g="0.0005"),
             Spec("C", 1, "sgd", "none", lr_g="0.0005", half_written=("interpolation",)))
    logged = log_experiment(tmp_path / "store", "halfway", specs)
    out = tmp_path / "report"
    assert main(["--experiment", "halfway", "--tracking-uri", logged.uri,
                 "--out", str(out)]) == 0
    assert broken_images(out) == []
    page = (out / "index.html").read_text()
    assert "All panels from seed 1" in page
    assert page.count("<img src='panels/") == 3 + 3 + 2
    assert "logged, but not a readable image" in page
    assert not (out / "panels/C3/interpolation.png").exists()


def _experiment_names(uri: str) -> list[str]:
    return [e.name for e in mlflow.MlflowClient(tracking_uri=uri).search_experiments()]


@pytest.mark.parametrize("args, message", [
    (["--experiment", "nope"], "error: --experiment: no experiment 'nope' in sqlite:///"),
    (["--grid", "missing.yaml"], "error: --grid: no such file 'missing.yaml'"),
    (["--experiment", "empty"], "error: --experiment: experiment 'empty' has no training runs"),
])
def test_user_mistakes_print_one_line_exit_2_and_write_nothing(
        logged: Logged, tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str],
        message: str) -> None:
    client = mlflow.MlflowClient(tracking_uri=logged.uri)
    if "empty" not in _experiment_names(logged.uri):
        client.create_experiment("empty", artifact_location=str(logged.root / "empty"))
    out = tmp_path / "out"
    code = main([*args, "--tracking-uri", logged.uri, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(message), err
    assert not out.exists()
    if args[1] == "nope":
        assert EXPERIMENT in err[0]  # lists what exists


def test_bad_grids_and_missing_store_are_one_line_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cases = {
        "broken.yaml": ("name: [unclosed", "is not valid YAML"),
        "noname.yaml": ("references: []", "has no 'name'"),
        "badref.yaml": ("name: x\nreferences: [{metric: m, mean: 1, std: -1, source: s, "
                        "settings: t}]", "references[0].std: expected a finite number >= 0"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        code = main(["--grid", str(tmp_path / name), "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], (name, err)
    db = tmp_path / "nowhere" / "mlflow.db"
    code = main(["--experiment", "x", "--tracking-uri", f"sqlite:///{db}",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no MLflow store at" in err[0]
    assert not db.exists() and not (tmp_path / "out").exists()


@pytest.mark.slow  # a second full build of the report
def test_report_regenerates_in_place(report: Path, logged: Logged) -> None:
    before = {p: p.read_bytes() for p in report.glob("*.csv")}
    assert main(["--grid", str(logged.root / "repro.yaml"), "--tracking-uri", logged.uri,
                 "--out", str(report)]) == 0
    assert {p: p.read_bytes() for p in report.glob("*.csv")} == before


def test_runs_file_with_its_grid_rebuilds_the_references_without_a_store(
        report: Path, logged: Logged, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    grid = logged.root / "repro.yaml"
    bare, again = tmp_path / "bare", tmp_path / "again"
    assert main(["--runs", str(report / "runs.parquet"), "--out", str(bare)]) == 0
    assert not (bare / "references.csv").exists()  # the file holds no published references
    assert main(["--runs", str(report / "runs.parquet"), "--grid", str(grid),
                 "--out", str(again)]) == 0
    for name in ("references.csv", "comparisons.csv", "summary.csv"):
        assert (again / name).read_bytes() == (report / name).read_bytes(), name

    other = tmp_path / "other.yaml"
    other.write_text(GRID_YAML.replace("name: repro", "name: other"))
    capsys.readouterr()
    assert main(["--runs", str(report / "runs.parquet"), "--grid", str(other),
                 "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'other'" in err[0] and "'repro'" in err[0], err
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("args, message", [
    ([], "one of the arguments --experiment --grid --runs is required"),
    (["--experiment", "repro", "--grid", "g.yaml"], "--grid: not allowed with argument "
                                                     "--experiment"),
    (["--experiment", "repro", "--runs", "r.parquet"], "not allowed with argument"),
])
def test_which_runs_usage_mistakes_are_one_line(
        args: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and message in err[0], err
