"""Comparisons: scipy's numbers, the exact test and its floor, Holm over the comparisons made,
bootstrap intervals, P(improvement), the verdicts, the test registry."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.errors import ConfigError
from benchmark.evaluation.declarations import MetricKey
from benchmark.reporting import significance
from benchmark.reporting.design import PAIRINGS
from benchmark.reporting.significance import PairTest, compare, holm

LOWER = MetricKey("m", higher_is_better=False)
HIGHER = MetricKey("m", higher_is_better=True)


def _finals(groups: dict[str, list[float]], metric: str = "m") -> pd.DataFrame:
    rows = [(c, f"label {c}", metric, v) for c, values in groups.items() for v in values]
    return pd.DataFrame(rows, columns=["config", "label", "metric", "value"])


GROUPS = {"C1": [0.1, 0.2, 0.3, 0.25], "C2": [0.5, 0.6, 0.55], "C3": [0.2, 0.35, 0.4],
          "C4": [9.0]}
ALL = PAIRINGS["all"](list(GROUPS), None)
AGAINST_C1 = PAIRINGS["reference"](list(GROUPS), "C1")


@pytest.mark.parametrize("test, scipy_test", [
    # C1 and C3 tie at 0.2: every split of the pooled seeds, as scipy's permutation method
    ("mannwhitney", lambda a, b: stats.mannwhitneyu(
        a, b, alternative="two-sided", method=stats.PermutationMethod(n_resamples=10**6))),
    ("welch", lambda a, b: stats.ttest_ind(a, b, equal_var=False)),
])
def test_every_pair_with_two_seeds_matches_scipy(test: str, scipy_test) -> None:
    table = compare(_finals(GROUPS), ALL, {"m": LOWER}, test)
    assert table[["config_a", "config_b"]].values.tolist() == [
        ["C1", "C2"], ["C1", "C3"], ["C2", "C3"]]  # C4 has one seed
    for row in table.itertuples():
        expected = scipy_test(GROUPS[row.config_a], GROUPS[row.config_b])
        assert row.p_value == pytest.approx(expected.pvalue, rel=1e-12)
        assert row.statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert (row.n_a, row.n_b) == (len(GROUPS[row.config_a]), len(GROUPS[row.config_b]))
        assert row.diff == pytest.approx(np.mean(GROUPS[row.config_b])
                                         - np.mean(GROUPS[row.config_a]))
        assert row.comparisons == 3
    assert (table["test"] == test).all()


def test_a_reference_design_compares_each_config_with_the_reference_only() -> None:
    table = compare(_finals(GROUPS), AGAINST_C1, {"m": LOWER})
    assert table[["config_a", "config_b"]].values.tolist() == [["C1", "C2"], ["C1", "C3"]]
    assert (table["comparisons"] == 2).all()  # C4 (one seed): not a comparison made
    assert PAIRINGS["reference"](list(GROUPS), None) == []  # no reference, nothing compared


def test_ties_get_the_exact_permutation_p_not_the_normal_approximation() -> None:
    a, b = [1.0, 1.0, 2.0, 2.0], [2.0, 3.0, 3.0, 3.0]
    table = compare(_finals({"C1": a, "C2": b}), [("C1", "C2")], {"m": HIGHER})
    # every split of the 8 pooled values, counted by hand: |U - 8| at least as far as observed
    pooled = np.array(a + b)
    observed = abs(stats.mannwhitneyu(a, b).statistic - 8)
    import itertools
    splits = list(itertools.combinations(range(8), 4))
    extreme = sum(abs(stats.mannwhitneyu(pooled[list(s)], np.delete(pooled, list(s))).statistic
                      - 8) >= observed - 1e-9 for s in splits)
    assert table["p_value"].iloc[0] == pytest.approx(extreme / len(splits), rel=1e-12)
    approx = stats.mannwhitneyu(a, b, method="asymptotic").pvalue
    assert table["p_value"].iloc[0] != pytest.approx(approx, rel=1e-3)


def test_holm_matches_the_hand_computed_step_down() -> None:
    # sorted p: 0.01, 0.02, 0.04 -> 3*0.01, max(0.03, 2*0.02), max(0.04, 1*0.04)
    assert holm([0.04, 0.01, 0.02]).tolist() == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]
    adjusted = holm([np.nan, 0.01])
    assert np.isnan(adjusted[0]) and adjusted[1] == pytest.approx(0.01)


def test_holm_is_over_the_comparisons_made_on_each_metric() -> None:
    finals = pd.concat([_finals(GROUPS, "a"), _finals({"C1": [1, 2], "C2": [3, 4]}, "b")])
    declared = {"a": LOWER, "b": LOWER}
    table = compare(finals, ALL, declared)
    assert table.groupby("metric")["comparisons"].first().to_dict() == {"a": 3, "b": 1}
    for _, part in table.groupby("metric"):
        assert part["p_holm"].tolist() == pytest.approx(holm(part["p_value"]).tolist())
    against = compare(finals, AGAINST_C1, declared)  # 2 comparisons, not 3: smaller p_holm
    a = against[against["metric"] == "a"]
    assert a["p_holm"].tolist() == pytest.approx(holm(a["p_value"]).tolist())
    assert a["p_floor_holm"].tolist() == pytest.approx([2 * 2 / math.comb(7, 3)] * 2)


@pytest.mark.parametrize("n, floor, quoted", [(3, 2 / 20, "0.1"), (4, 2 / 70, "0.029"),
                                              (5, 2 / 252, "0.0079"), (6, 2 / 924, "0.0022")])
def test_the_exact_floor_is_reached_by_fully_separated_seeds(n: int, floor: float,
                                                             quoted: str) -> None:
    assert f"{floor:.2g}" == quoted  # the numbers the docs quote
    table = compare(_finals({"C1": list(range(n)), "C2": [10.0 + i for i in range(n)]}),
                    [("C1", "C2")], {"m": HIGHER})
    assert table["p_value"].iloc[0] == pytest.approx(floor, rel=1e-9)
    assert table["p_floor"].iloc[0] == pytest.approx(floor, rel=1e-9)


def test_the_floor_note_says_underpowered_after_holm() -> None:
    table = compare(_finals({"C1": [1, 2, 3], "C2": [4, 5, 6], "C3": [7, 8, 9]}),
                    [("C1", "C2"), ("C1", "C3")], {"m": HIGHER})
    note = significance.resolution_note(table, "mannwhitney")
    assert "3 vs 3 seeds: 0.1, 0.2 after Holm over 2 comparisons (underpowered" in note
    assert (table["verdict"] == "underpowered").all()
    assert significance.resolution_note(table, "welch") == ""


def test_p_improvement_follows_the_metric_direction() -> None:
    groups = {"C1": [1.0, 2.0, 3.0], "C2": [2.5, 3.5, 4.5]}
    # pairs of (B, A) with B > A: 2.5>1,2; 3.5>1,2,3; 4.5>all -> 8 of 9
    higher = compare(_finals(groups), [("C1", "C2")], {"m": HIGHER})
    lower = compare(_finals(groups), [("C1", "C2")], {"m": LOWER})
    assert higher["p_improvement"].iloc[0] == pytest.approx(8 / 9)
    assert lower["p_improvement"].iloc[0] == pytest.approx(1 / 9)
    for table in (higher, lower):
        row = table.iloc[0]
        assert row["p_improvement ci95 low"] <= row["p_improvement"] <= row[
            "p_improvement ci95 high"]
        assert row["diff ci95 low"] <= row["diff"] <= row["diff ci95 high"]


def test_intervals_are_reproducible_and_independent_of_run_order() -> None:
    one = compare(_finals({"C1": [0.3, 0.1, 0.2, 0.25], "C2": [0.5, 0.6, 0.55]}),
                  [("C1", "C2")], {"m": LOWER})
    two = compare(_finals({"C1": [0.25, 0.2, 0.1, 0.3], "C2": [0.55, 0.5, 0.6]}),
                  [("C1", "C2")], {"m": LOWER})
    pd.testing.assert_frame_equal(one, two)


@pytest.mark.parametrize("p_holm, p_imp, floor, width, effect, expected", [
    (0.01, 0.9, 0.01, 1.0, None, "better"),
    (0.01, 0.1, 0.01, 1.0, None, "worse"),
    (0.3, 0.6, 0.1, 1.0, None, "underpowered"),  # the floor is above 0.05
    (0.3, 0.6, 0.01, 1.0, 0.5, "underpowered"),  # the interval is wider than the effect
    (0.3, 0.6, 0.01, 0.2, 0.5, "no difference detected"),
    (0.3, 0.6, 0.01, 1.0, None, "no difference detected"),
])
def test_verdicts(p_holm, p_imp, floor, width, effect, expected) -> None:
    assert significance.verdict(p_holm, p_imp, floor, width, effect) == expected


def test_test_registry_validates() -> None:
    with pytest.raises(ConfigError, match=r"--test: unknown value 'ks'; choose from: mann"):
        compare(_finals(GROUPS), ALL, {"m": LOWER}, "ks")
    with pytest.raises(ValueError, match="already registered"):
        significance.TESTS.register("welch", significance.TESTS["welch"])
    with pytest.raises(ValueError, match="without spaces"):
        significance.TESTS.register("two words", significance.TESTS["welch"])
    with pytest.raises(TypeError, match="must be a PairTest"):
        significance.TESTS.register("fresh", lambda a, b: (0.0, 1.0))  # type: ignore[arg-type]
    assert isinstance(significance.TESTS["mannwhitney"], PairTest)
