"""Configs, labels, seed bands and figures on hand-made run tables (no MLflow needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.reporting import page, plots, significance, tables
from benchmark.reporting.loading import ExperimentRuns
from benchmark.reporting.panels import PanelRow, common_seed


def _runs(specs: list[tuple[str, str, int, str]], history: pd.DataFrame | None = None,
          finals: dict[str, dict[str, float]] | None = None) -> ExperimentRuns:
    """specs: (run_id, optimizer, seed, outcome); config_key follows the optimizer."""
    runs = pd.DataFrame([{"run_id": r, "run_name": r, "run_key": r, "config_key": f"ck-{o}",
                          "seed": s, "outcome": out, "collapsed": False, "start_time": i}
                         for i, (r, o, s, out) in enumerate(specs)]).set_index("run_id")
    params = pd.DataFrame([{"seed": str(s), "optim.name": o, "scheme.name": "alternating",
                            "data.dataset": "mnist", "train.dir": f"runs/{r}"}
                           for r, o, s, _ in specs], index=runs.index)
    finals_frame = pd.DataFrame.from_dict(finals or {}, orient="index").reindex(runs.index)
    empty = pd.DataFrame({"run_id": [], "key": [], "step": [], "value": []})
    return ExperimentRuns("x", "sqlite:///x.db", runs, params, finals_frame.astype(float),
                          empty if history is None else history, 0)


SPECS = [("a0", "adam", 0, "finished"), ("a1", "adam", 1, "finished"),
         ("s0", "sgd", 0, "finished"), ("s1", "sgd", 1, "diverged")]


def test_configs_are_named_by_what_varies_and_count_outcomes() -> None:
    data = _runs(SPECS)
    configs = tables.build_configs(data)
    assert configs.varying == ["optim.name"]  # not the seed, not the per-run path
    assert configs.frame["label"].tolist() == ["adam", "sgd"]
    assert configs.frame.loc["C2", ["runs", "n", "diverged"]].tolist() == [2, 1, 1]
    assert configs.runs.loc["s1", "counted"] == np.False_


def test_short_labels_keep_full_names_when_the_last_part_is_shared() -> None:
    data = _runs(SPECS)
    data.params["scheme.name"] = ["alternating", "alternating", "extragradient",
                                  "extragradient"]
    configs = tables.build_configs(data)
    assert configs.frame["label"].tolist() == [
        "optim.name=adam, scheme.name=alternating", "optim.name=sgd, scheme.name=extragradient"]


def test_metric_labels_state_sample_counts() -> None:
    params = pd.Series({"eval.fid_gen_count": "1000", "eval.fid_real_count": "500"})
    assert tables.metric_label("fid_inception", params) == "fid_inception (1000 gen / 500 real)"
    assert tables.metric_label("avg_ema.kid_inception", params) == (
        "avg_ema.kid_inception (1000 gen / 500 real)")
    assert tables.metric_label("is_inception", params) == "is_inception (1000 gen)"
    assert tables.metric_label("recon_mse", params) == tables.FINAL_RECON
    assert tables.summary_metric("avg_ema.recon_mse") and not tables.summary_metric("loss_d")


def test_band_on_grid_is_mean_and_sample_std_where_seeds_overlap() -> None:
    a = (np.array([0.0, 10.0]), np.array([1.0, 3.0]))
    b = (np.array([0.0, 5.0]), np.array([3.0, 3.0]))  # a shorter (diverged) seed
    grid, mean, std = plots.band_on_grid([a, b], points=3)
    assert grid.tolist() == [0.0, 5.0, 10.0]
    assert mean.tolist() == pytest.approx([2.0, 2.5, 3.0])
    assert std[:2] == pytest.approx([np.std([1, 3], ddof=1), np.std([2, 3], ddof=1)])
    assert np.isnan(std[2])  # only one seed reaches 10


def test_common_seed_is_the_smallest_every_config_has() -> None:
    runs = pd.DataFrame({"config": ["C1", "C1", "C2", "C2"], "seed": [1, 2, 2, 3]})
    assert common_seed(runs) == 2
    assert common_seed(runs.assign(seed=[1, 1, 2, 3])) is None


def test_common_seed_prefers_seeds_whose_runs_finished() -> None:
    runs = pd.DataFrame({"config": ["C1", "C1", "C2", "C2"], "seed": [0, 1, 0, 1],
                         "counted": [True, True, False, True]})
    assert common_seed(runs) == 1  # C2's seed-0 run is running, failed or diverged
    assert common_seed(runs.assign(counted=[True, True, False, False])) == 0  # no better


def test_figures_without_their_metrics_are_skipped_with_a_reason(tmp_path: Path) -> None:
    history = pd.DataFrame({"run_id": ["a0", "a0", "s1"], "key": ["loss_d", "loss_d", "loss_d"],
                            "step": [0, 10, 0], "value": [1.0, np.inf, 2.0]})
    data = _runs(SPECS, history)
    configs = tables.build_configs(data)
    finals = tables.final_values(data, configs)
    figures = plots.draw_all(plots.context(data, configs, finals), tmp_path)
    drawn = {f.name for f in figures if not f.skipped}
    assert drawn == {"losses", "divergence"}
    reasons = {f.name: f.skipped for f in figures if f.skipped}
    assert reasons["recon_cpu"].startswith("needs recon_mse and cpu_time_s")
    assert reasons["recon_grad_evals"].startswith("needs recon_mse and grad_evals")
    assert reasons["lr"] == "the runs do not vary optim.lr_g or optim.lr_d"
    for name in drawn:
        assert (tmp_path / "plots" / f"{name}.png").stat().st_size > 0
        assert (tmp_path / "plots" / f"{name}.svg").read_text().lstrip().startswith("<?xml")


def test_long_histories_are_thinned_but_keep_the_last_point() -> None:
    steps = np.arange(1001)
    history = pd.DataFrame({"run_id": "a0", "key": "loss_d", "step": steps,
                            "value": steps.astype(float)})
    thinned = plots._thin(history)
    assert len(thinned) <= plots.MAX_POINTS + 1
    assert thinned["step"].iloc[-1] == 1000 and thinned["step"].iloc[0] == 0


def test_runs_with_nothing_logged_still_give_a_page_of_skipped_figures(tmp_path: Path) -> None:
    data = _runs([("a0", "adam", 0, "failed"), ("s0", "sgd", 0, "running")])
    configs = tables.build_configs(data)
    finals = tables.final_values(data, configs)
    assert finals.empty and tables.summary(configs, finals)["runs"].tolist() == [1, 1]
    figures = plots.draw_all(plots.context(data, configs, finals), tmp_path)
    assert [f.name for f in figures if not f.skipped] == ["divergence"]


def test_configs_with_the_same_params_get_distinct_labels() -> None:
    data = _runs([("a0", "adam", 0, "finished"), ("s0", "sgd", 0, "finished")])
    data.params["optim.name"] = "adam"  # e.g. a param the tracker did not log
    data.params = data.params.drop(columns="train.dir")
    configs = tables.build_configs(data)
    assert configs.frame["label"].tolist() == ["C1 all runs", "C2 all runs"]


def test_the_page_is_never_written_with_a_link_to_a_missing_image(tmp_path: Path) -> None:
    comparisons = pd.DataFrame(columns=significance.COLUMNS)
    report = page.Report(
        experiment="x", tracking_uri="sqlite:///x.db", settings=[], runs=1, duplicates=0,
        summary=pd.DataFrame({"config": ["C1"]}), summary_csv=pd.DataFrame({"config": ["C1"]}),
        comparisons=comparisons, test_title="t", test_note="", references=[], figures=[],
        panel_seed=0, panels=[PanelRow("C1", "adam", 0, "r1", "finished",
                                       {"generation": "panels/C1/generation.png"})])
    with pytest.raises(RuntimeError, match=r"missing images: panels/C1/generation\.png$"):
        page.write_report(tmp_path, report)
    assert not (tmp_path / "index.html").exists()


@pytest.mark.parametrize(("logged", "shown"), [
    ("0.0001261647807407067", "0.000126"), ("1.7818109257113814e-06", "1.78e-06"),
    ("0.001", "0.001"), ("100", "100"), ("adam", "adam"), ("none", "none"),
    ("cycle_consistency(weight=100.0)", "cycle_consistency(weight=100.0)")])
def test_labels_show_tuned_floats_to_three_digits(logged: str, shown: str) -> None:
    assert tables._compact(logged) == shown
