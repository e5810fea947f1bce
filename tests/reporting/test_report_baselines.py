"""Each metric beside its trivial baseline: summary.csv columns, the flags in words on the page and
in summary.md, and the baseline lines of the figures (their data, not their pixels)."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest
from report_store import (
    CLASSIFIER_ACC,
    EXPERIMENT,
    MEAN_IMAGE_MSE,
    PRDC_HELDOUT,
    PRDC_KEYS,
    Logged,
)

from benchmark.evaluation.declarations import declared
from benchmark.reporting import plots, tables
from benchmark.reporting.loading import RunStore

CONFIG_OF_OPTIM = {"adam": "A", "extra_adam": "B", "sgd": "C"}
ID_OF = {"A": "C1", "B": "C2", "C": "C3"}  # the report numbers configs by their params
# summary column, logged key, baseline key, higher is better, the baseline in words
CHECKED = (
    ("recon_mse (final)", "recon_mse", "recon_mse_mean_image", False, "mean-image baseline"),
    ("recon_mse (best)", "best recon_mse", "recon_mse_mean_image", False, "mean-image baseline"),
    ("probe_acc", "probe_acc", "probe_acc_random", True, "random-encoder baseline"),
    ("knn_acc", "knn_acc", "knn_acc_random", True, "random-encoder baseline"),
    ("avg_ema.recon_mse", "avg_ema.recon_mse", "recon_mse_mean_image", False,
     "mean-image baseline"),
    ("fid_classifier ({gen} gen / 1000 real)", "fid_classifier", "gaussian_fid_classifier", False,
     "pixel-Gaussian baseline"),
    ("recon_mse (final)", "recon_mse", "untrained_recon_mse", False, "untrained-model baseline"),
    ("recon_mse (best)", "best recon_mse", "untrained_recon_mse", False,
     "untrained-model baseline"),
    ("avg_ema.recon_mse", "avg_ema.recon_mse", "untrained_recon_mse", False,
     "untrained-model baseline"),
    ("probe_acc", "probe_acc", "untrained_probe_acc", True, "untrained-model baseline"),
    ("fid_classifier ({gen} gen / 1000 real)", "fid_classifier", "untrained_fid_classifier",
     False, "untrained-model baseline"),
)
STATS = ("n", "mean", "std", "ci95 low", "ci95 high")
FID_GEN = {"A": 1000, "B": 1000, "C": 500}  # eval.fid_gen_count: in the FID's column name


def _summary(report: Path) -> pd.DataFrame:
    table = pd.read_csv(report / "summary.csv", dtype={"optim.name": str})
    return table.set_index(table["optim.name"].map(CONFIG_OF_OPTIM))


def _values(logged: Logged, config: str, key: str) -> list[float]:
    """The finished runs' last values of `key`, or their history minimum for 'best <key>'."""
    if not key.startswith("best "):
        return logged.finals(config, key)
    return [min(v for _, v in logged.values[name][key[5:]])
            for name, spec in logged.specs.items()
            if spec.config == config and spec.outcome == "finished"]


def _mean(logged: Logged, config: str, key: str) -> float:
    return float(pd.Series(_values(logged, config, key)).mean())


def test_the_declared_baselines_are_the_ones_evaluation_logs() -> None:
    from benchmark.evaluation.evaluator import KEY_CLASSIFIER_TEST_ACC
    from benchmark.evaluation.probe import (
        KEY_KNN_ACC,
        KEY_KNN_ACC_RANDOM,
        KEY_PROBE_ACC,
        KEY_PROBE_ACC_RANDOM,
    )
    from benchmark.evaluation.recon_acc import KEY_RECON_ACC
    from benchmark.evaluation.reconstruction import KEY_RECON_MSE, KEY_RECON_MSE_MEAN_IMAGE

    pairs = {key: declared(key).baseline.key
             for key in (KEY_RECON_MSE, KEY_PROBE_ACC, KEY_KNN_ACC, KEY_RECON_ACC)}
    assert pairs == {KEY_RECON_MSE: KEY_RECON_MSE_MEAN_IMAGE,
                     KEY_PROBE_ACC: KEY_PROBE_ACC_RANDOM,
                     KEY_KNN_ACC: KEY_KNN_ACC_RANDOM,
                     KEY_RECON_ACC: KEY_CLASSIFIER_TEST_ACC}
    assert declared("avg_ema.knn_acc") == declared("knn_acc")
    assert declared("fid_classifier").higher_is_better is False
    assert declared("recon_mse_mean_image") is None  # a baseline, not a metric
    assert declared("fid_classifier").baseline.key == "gaussian_fid_classifier"
    assert declared("is_classifier").baseline.key == "gaussian_is_classifier"
    assert declared("gaussian_fid_classifier") is None


def test_every_metric_key_but_a_spread_has_an_untrained_baseline() -> None:
    from benchmark.evaluation.declarations import UNTRAINED, declared_keys

    for found in declared_keys():
        spread = found.key.endswith("_std")
        assert (found.untrained is None) == spread, found.key
        if not spread:
            assert found.untrained == UNTRAINED and found.baselines[-1] == UNTRAINED
    assert [b.key for b in declared("recon_mse").baselines] == ["recon_mse_mean_image",
                                                                "untrained_recon_mse"]
    assert declared("avg_ema.recon_mse").untrained.key == "untrained_recon_mse"  # shared
    assert declared("fid_classifier").untrained.key == "untrained_fid_classifier"
    assert declared("kid_classifier_std").baselines == ()
    for key in ("untrained_recon_mse", "untrained_fid_classifier", "avg_ema.untrained_knn_acc"):
        assert declared(key) is None, key  # a baseline, never a metric


def test_summary_csv_puts_each_baseline_beside_its_metric(report: Path, logged: Logged) -> None:
    table = _summary(report)
    columns = list(table.columns)
    for before, baselines in (("recon_mse (best)", ["recon_mse_mean_image",
                                                    "untrained_recon_mse"]),
                              ("probe_acc", ["probe_acc_random", "untrained_probe_acc"]),
                              ("knn_acc", ["knn_acc_random"]),  # no untrained one logged
                              ("recon_acc", ["classifier_test_acc"])):
        at = columns.index(f"{before} ci95 high")
        assert columns[at + 1: at + 1 + 5 * len(baselines)] == [
            f"{b} {s}" for b in baselines for s in STATS]
    assert sum(c.startswith("recon_mse_mean_image") for c in columns) == 5  # shared, once
    assert sum(c.startswith("untrained_recon_mse") for c in columns) == 5
    assert not any(c.startswith("untrained_knn_acc") for c in columns)
    for config in ("A", "B", "C"):
        for key in ("recon_mse_mean_image", "probe_acc_random", "knn_acc_random",
                    "classifier_test_acc", "untrained_recon_mse", "untrained_fid_classifier"):
            values = pd.Series(logged.finals(config, key))  # finished runs only, as the metrics
            assert table.at[config, f"{key} n"] == len(values)
            assert table.at[config, f"{key} mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert table.at["C", "probe_acc_random mean"] == pytest.approx(0.9)
    assert table.at["A", "recon_acc mean"] < table.at["A", "classifier_test_acc mean"]


def test_prdc_reaches_the_summary_beside_its_heldout_ceiling(report: Path,
                                                              logged: Logged) -> None:
    """Declared by the metric, with no edit in reporting/: the columns carry the sample counts,
    the held-out ceiling follows them, and a ceiling is never flagged."""
    table = _summary(report)
    columns = list(table.columns)
    for key in PRDC_KEYS:
        for counts, configs in (("1000 gen / 1000 real", ("A", "B")), ("500 gen / 1000 real",
                                                                        ("C",))):
            column = f"{key} ({counts})"
            for config in configs:
                values = pd.Series(logged.finals(config, key))
                assert table.at[config, f"{column} mean"] == pytest.approx(values.mean())
        at = columns.index(f"{key} (500 gen / 1000 real) ci95 high")  # its last column
        assert columns[at + 1: at + 6] == [f"{key}_heldout {s}" for s in STATS]
        assert table[f"{key}_heldout mean"].tolist() == pytest.approx([PRDC_HELDOUT] * 3)
    summary_md = (report / "summary.md").read_text(encoding="utf-8")
    assert "precision_classifier_k3 (1000 gen / 1000 real) |" in summary_md
    assert ("precision_classifier_k3_heldout (held-out real images, a ceiling, never flagged; "
            "higher is better)") in summary_md
    assert not any("precision" in line for line in summary_md.splitlines()
                   if "does not beat" in line)


def _expected_flags(logged: Logged) -> tuple[list[tuple[str, str]], list[str]]:
    """Recomputed from the logged values: (config id, the end of the sentence the report must
    print) for each mean that does not beat its baseline's, and the metric phrases of the ones
    that do (which must not be flagged)."""
    flagged, clean = [], []
    for config in ("A", "B", "C"):
        for column, key, baseline, higher, name in CHECKED:
            if not _values(logged, config, key):
                continue
            value, base = _mean(logged, config, key), _mean(logged, config, baseline)
            column = column.format(gen=FID_GEN[config])
            phrase = f"{ID_OF[config]} ({{}}): {column} does not beat the {name} {baseline} ("
            if (value > base) if higher else (value < base):
                clean.append(phrase)
                continue
            way = "higher" if higher else "lower"
            flagged.append((ID_OF[config], f"): {column} does not beat the {name} {baseline} "
                            f"({tables.fmt(value, 3)} vs {tables.fmt(base, 3)}; {way} is "
                            "better)"))
    return flagged, clean


def test_configs_that_do_not_beat_a_baseline_are_flagged_in_words(report: Path,
                                                                  logged: Logged) -> None:
    flagged, clean = _expected_flags(logged)
    # the fixture is built to flag and to pass: both must occur
    assert {c for c, _ in flagged} == {"C1", "C2", "C3"} and clean
    assert any("avg_ema.recon_mse" in text for _, text in flagged)
    assert {c for c, text in flagged if "untrained" in text} == {"C3"}
    assert any("untrained" in phrase for phrase in clean)
    page = (report / "index.html").read_text(encoding="utf-8")
    summary_md = (report / "summary.md").read_text(encoding="utf-8")
    readme = (report / "README.md").read_text(encoding="utf-8")
    for doc in (summary_md, readme):
        lines = [line for line in doc.splitlines() if "does not beat" in line]
        assert len(lines) == len(flagged), lines
        for config, text in flagged:
            assert any(line.startswith(f"- {config} (") and line.endswith(text)
                       for line in lines), text
        for phrase in clean:
            config, rest = phrase.split(" ({}")
            assert not any(line.startswith(f"- {config} (") and rest in line
                           for line in lines), phrase
    items = [html.unescape(t) for t in page.split("<li")[1:] if "does not beat" in t]
    assert len(items) == len(flagged)
    for config, text in flagged:
        assert any(f">{config} (" in item and text in item for item in items), text
    assert "classifier_test_acc (classifier's accuracy on real images, a ceiling" in (
        html.unescape(page))
    assert 'title="does not beat its baseline"' in page  # the cells are marked too


def _context(logged: Logged) -> plots.Context:
    data = RunStore(logged.uri).load(EXPERIMENT, plots.wants_history)
    configs = tables.build_configs(data)
    finals = tables.final_values(data, configs)
    return plots.context(data, configs, finals, tables.baseline_values(data, configs))


def _baseline_artists(fig) -> dict[str, list]:
    out: dict[str, list] = {}
    for ax in fig.axes:
        for artist in [*ax.lines, *ax.collections]:
            gid = artist.get_gid() or ""
            if gid.startswith("baseline-"):
                out.setdefault(ax.get_title(), []).append(artist)
    return out


def test_final_metric_plot_draws_each_rows_baseline(logged: Logged) -> None:
    ctx = _context(logged)
    fig, caption = plots.draw_finals(ctx)
    drawn = _baseline_artists(fig)
    prdc = {f"{key} (1000 gen / 1000 real)" for key in PRDC_KEYS} | {
        f"{key} (500 gen / 1000 real)" for key in PRDC_KEYS}  # config C: other sample counts
    fid = {"fid_classifier (1000 gen / 1000 real)", "fid_classifier (500 gen / 1000 real)"}
    assert set(drawn) == {"recon_mse (final)", "recon_mse (best)", "probe_acc", "knn_acc",
                          "recon_acc", "avg_ema.recon_mse", *prdc, *fid}
    rows = {0: "A", 1: "B", 2: "C"}  # the y positions: adam, extra_adam, sgd
    for title, key in (("probe_acc", "probe_acc_random"), ("recon_mse (final)",
                                                           "recon_mse_mean_image"),
                       ("recon_acc", "classifier_test_acc"),
                       ("fid_classifier (1000 gen / 1000 real)", "gaussian_fid_classifier")):
        [ticks] = drawn[title]
        for (x0, y0), (x1, y1) in ticks.get_segments():
            assert x0 == x1 and y0 < y1
            config = rows[round((y0 + y1) / 2)]
            assert x0 == pytest.approx(_mean(logged, config, key), rel=1e-12), (title, config)
    assert "mean-image baseline recon_mse_mean_image" in caption
    plots.plt.close(fig)


def test_recon_curves_draw_the_mean_image_baseline(logged: Logged, report: Path) -> None:
    ctx = _context(logged)
    for draw in (plots.draw_headline_steps, plots.draw_headline_cpu):
        fig, caption = draw(ctx)
        [[line]] = _baseline_artists(fig).values()  # every config shares one level
        assert list(line.get_ydata()) == pytest.approx([MEAN_IMAGE_MSE] * 2)
        assert "recon_mse_mean_image" in caption
        plots.plt.close(fig)
    for name in ("recon_steps", "recon_cpu", "finals", "lr"):
        svg = (report / "plots" / f"{name}.svg").read_text(encoding="utf-8")
        assert 'id="baseline-recon_mse_mean_image' in svg, name
    svg = (report / "plots" / "finals.svg").read_text(encoding="utf-8")
    assert 'id="baseline-classifier_test_acc' in svg and CLASSIFIER_ACC > 0


def test_differing_baselines_get_a_line_per_config() -> None:
    fig, ax = plots.plt.subplots()
    found = declared("probe_acc")
    lines = plots.baseline_lines(ax, found, {"adam": 0.7, "sgd": 0.9}, {"adam": (1, 0, 0)})
    assert [(line.get_label(), line.get_ydata()[0]) for line in lines] == [("adam", 0.7),
                                                                           ("sgd", 0.9)]
    assert lines[0].get_color() == (1, 0, 0)
    assert plots.baseline_lines(ax, declared("modes_covered"), {"a": 1.0}) == []
    plots.plt.close(fig)
