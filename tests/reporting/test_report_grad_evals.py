"""Every tracked metric against gradient evaluations (issue 14's compute-matched axis), and the
page saying which axis each comparison uses. Figures are checked by their data, not pixels."""

from __future__ import annotations

import html
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.entities import Metric, Param
from report_store import EXPERIMENT, Logged

from benchmark.report import main
from benchmark.reporting import plots, tables
from benchmark.reporting.loading import RunStore

# scheme -> (gradient evaluations per step, FID generated samples, logs grad_evals). The runs
# have a budget of BUDGET gradient evaluations, so the cheap scheme runs twice the steps;
# extragradient's runs were logged before runs counted their evaluations.
SCHEMES = {"alternating": (2, "1000", True), "simultaneous": (1, "500", True),
           "extragradient": (2, "1000", False)}
BUDGET = 400
EVAL_EVERY = 100
KNN_RANDOM = 0.3
PROBE_RANDOM = 0.25


def _knn(scheme: str, seed: int, step: int) -> float:
    return 0.5 + step / 2000 + 0.01 * seed + {"alternating": 0.0, "simultaneous": 0.05,
                                               "extragradient": 0.1}[scheme]


def _log(root: Path, name: str, grad_evals: bool = True) -> str:
    """Two seeds per scheme, each metric logged every EVAL_EVERY steps and grad_evals every 20
    steps, as training logs them (recon_acc only by the runs without grad_evals)."""
    uri = f"sqlite:///{root}/mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(name, artifact_location=str(root / "artifacts"))
    for scheme, (cost, fid_gen, counted) in SCHEMES.items():
        steps = BUDGET // cost
        for seed in (0, 1):
            run = client.create_run(exp, run_name=f"{scheme}-{seed}", tags={
                "alibench.kind": "run", "run_key": f"rk-{scheme}-{seed}",
                "config_key": f"ck-{scheme}", "outcome": "finished"})
            params = {"seed": str(seed), "scheme.name": scheme, "train.steps": "1000",
                      "train.grad_evals": str(BUDGET), "eval.fid_extractor": "classifier",
                      "eval.fid_gen_count": fid_gen, "eval.fid_real_count": "1000"}
            evals = range(EVAL_EVERY, steps + 1, EVAL_EVERY)
            metrics = [Metric("knn_acc_random", KNN_RANDOM, 0, 0),
                       Metric("probe_acc_random", PROBE_RANDOM, 0, 0)]
            metrics += [Metric("loss_d", 1.0, 0, s) for s in range(0, steps + 1, 20)]
            for s in evals:
                metrics += [Metric("knn_acc", _knn(scheme, seed, s), 0, s),
                            Metric("probe_acc", 0.6 + s / 4000, 0, s),
                            Metric("fid_classifier", 50.0 - s / 20 + seed, 0, s)]
            if counted and grad_evals:
                metrics += [Metric("grad_evals", float(cost * s), 0, s)
                            for s in range(0, steps + 1, 20)]
            else:
                metrics += [Metric("recon_acc", 0.7, 0, s) for s in evals]
            client.log_batch(run.info.run_id, metrics=metrics,
                             params=[Param(k, v) for k, v in params.items()])
            client.set_terminated(run.info.run_id)
    return uri


@pytest.fixture(scope="module")
def matched(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _log(tmp_path_factory.mktemp("matched"), "matched")


def _context(uri: str, name: str) -> plots.Context:
    data = RunStore(uri).load(name, plots.wants_history)
    configs = tables.build_configs(data)
    finals = tables.final_values(data, configs)
    return plots.context(data, configs, finals, tables.baseline_values(data, configs))


def _panels(fig) -> dict[str, object]:
    return {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}


def _baseline_gids(ax) -> set[str]:
    return {g for a in [*ax.lines, *ax.collections] if (g := a.get_gid() or "").startswith(
        "baseline-")}


def test_every_declared_metric_history_is_loaded() -> None:
    for key in ("recon_mse", "knn_acc", "probe_acc", "recon_acc", "kid_classifier",
                "precision_classifier_k3", "modes_covered", "grad_evals", "cpu_time_s"):
        assert plots.wants_history(key), key
    for key in ("avg_ema.knn_acc", "knn_acc_random", "precision_classifier_k3_heldout",
                "wall_time_s", "d_accuracy_enc"):
        assert not plots.wants_history(key), key


def test_each_metric_is_a_panel_against_gradient_evaluations(matched: str) -> None:
    ctx = _context(matched, "matched")
    fig, caption = plots.draw_metrics_grad_evals(ctx)
    panels = _panels(fig)
    against = " against gradient evaluations"
    assert list(panels) == [f"{m}{against}" for m in (  # the summary's order; FID never mixed
        "fid_classifier (1000 gen / 1000 real)", "fid_classifier (500 gen / 1000 real)",
        "knn_acc", "probe_acc")]
    knn = panels[f"knn_acc{against}"]
    scheme_of = dict(zip(ctx.configs.frame["label"], ctx.configs.frame["scheme.name"],
                         strict=True))
    curves = {scheme_of[line.get_label()]: line for line in knn.lines if not line.get_gid()}
    assert set(curves) == {"alternating", "simultaneous"}  # extragradient logged no grad_evals
    for scheme, line in curves.items():
        cost = SCHEMES[scheme][0]
        steps = range(EVAL_EVERY, BUDGET // cost + 1, EVAL_EVERY)
        x, y = line.get_xdata(), line.get_ydata()
        assert (x[0], x[-1]) == pytest.approx((cost * steps[0], BUDGET))
        for end, step in ((0, steps[0]), (-1, steps[-1])):  # the mean over the two seeds
            assert y[end] == pytest.approx(np.mean([_knn(scheme, s, step) for s in (0, 1)]))
    assert knn.get_xlabel() == "gradient evaluations"
    assert _baseline_gids(knn) == {"baseline-knn_acc_random-0"}
    [level] = [line for line in knn.lines if line.get_gid()]
    assert list(level.get_ydata()) == pytest.approx([KNN_RANDOM] * 2)
    assert _baseline_gids(panels[f"probe_acc{against}"]) == {"baseline-probe_acc_random-0"}
    fid = panels[f"fid_classifier (500 gen / 1000 real){against}"]
    assert [scheme_of[line.get_label()] for line in fid.lines] == ["simultaneous"]
    assert "random-encoder baseline knn_acc_random for knn_acc" in caption
    assert "Not drawn, no run logged them with grad_evals: recon_acc." in caption
    plots.plt.close(fig)


def test_a_metric_scored_once_is_a_dot_with_its_seed_bar(logged: Logged) -> None:
    """The session store scores knn_acc once, at the end (step 100, 200 evaluations)."""
    data = RunStore(logged.uri).load(EXPERIMENT, plots.wants_history)
    configs = tables.build_configs(data)
    ctx = plots.context(data, configs, tables.final_values(data, configs))
    fig, _ = plots.draw_metrics_grad_evals(ctx)
    knn = _panels(fig)["knn_acc against gradient evaluations"]
    dots = {c.get_label(): c for c in knn.containers}
    label_a = configs.frame.loc["C1", "label"]  # adam: the session store's config A
    x, y = dots[label_a].lines[0].get_data()
    assert list(x) == [200.0]
    assert y[0] == pytest.approx(np.mean(logged.finals("A", "knn_acc")))
    plots.plt.close(fig)


def test_runs_without_grad_evals_skip_the_figure_with_a_reason(tmp_path: Path) -> None:
    uri = _log(tmp_path, "old", grad_evals=False)
    figures = plots.draw_all(_context(uri, "old"), tmp_path / "report")
    skipped = {f.name: f.skipped for f in figures if f.skipped}
    assert skipped["metrics_grad_evals"] == (
        "needs grad_evals beside a metric's history; no run logged grad_evals with "
        "fid_classifier (1000 gen / 1000 real), fid_classifier (500 gen / 1000 real), knn_acc, "
        "probe_acc, recon_acc")
    assert not (tmp_path / "report" / "plots" / "metrics_grad_evals.png").exists()


def test_the_page_says_which_axis_each_comparison_uses(matched: str, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["--experiment", "matched", "--tracking-uri", matched, "--out", str(out)]) == 0
    svg = (out / "plots" / "metrics_grad_evals.svg").read_text(encoding="utf-8")
    assert 'id="baseline-knn_acc_random-0"' in svg and 'id="baseline-probe_acc_random-0"' in svg
    page = html.unescape((out / "index.html").read_text(encoding="utf-8"))
    readme = (out / "README.md").read_text(encoding="utf-8")
    budget = f"Compared at the end of each run's budget ({BUDGET} gradient evaluations)"
    assert page.count(budget) == 2 and readme.count(budget) == 2  # summary, pairwise tests
    axes = {"metrics_grad_evals": plots.GRAD_EVALS_AXIS, "losses": plots.STEPS_AXIS,
            "finals": f"Values at the end of each run's budget ({BUDGET} gradient evaluations)"}
    for name, axis in axes.items():
        [caption] = [c for c in page.split("<figure>") if f"plots/{name}.png" in c]
        assert f"<i>{axis}.</i>" in caption, name
        [line] = [c for c in readme.splitlines() if f"(plots/{name}.svg)" in c]
        assert f"*{axis}.*" in line, name


def test_budgets_name_grad_evals_before_steps() -> None:
    import pandas as pd
    params = pd.DataFrame({"train.steps": ["1000", "1000", "300"],
                           "train.grad_evals": ["400", "None", "None"]})
    assert tables.budgets(params) == "400 gradient evaluations, 300 steps, 1000 steps"
    assert tables.budgets(pd.DataFrame({"seed": ["0"]})) == ""
