"""Pairwise tests: scipy's numbers, Holm's adjustment, the p floor, the test registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.errors import ConfigError
from benchmark.reporting import significance
from benchmark.reporting.significance import PairTest, compare, holm


def _finals(groups: dict[str, list[float]], metric: str = "m") -> pd.DataFrame:
    rows = [(c, f"label {c}", metric, v) for c, values in groups.items() for v in values]
    return pd.DataFrame(rows, columns=["config", "label", "metric", "value"])


GROUPS = {"C1": [0.1, 0.2, 0.3, 0.25], "C2": [0.5, 0.6, 0.55], "C3": [0.2, 0.35, 0.4],
          "C4": [9.0]}


@pytest.mark.parametrize("test, scipy_test", [
    ("mannwhitney", lambda a, b: stats.mannwhitneyu(a, b, alternative="two-sided")),
    ("welch", lambda a, b: stats.ttest_ind(a, b, equal_var=False)),
])
def test_every_pair_with_two_seeds_matches_scipy(test: str, scipy_test) -> None:
    table = compare(_finals(GROUPS), test, ["C1", "C2", "C3", "C4"])
    assert table[["config_a", "config_b"]].values.tolist() == [
        ["C1", "C2"], ["C1", "C3"], ["C2", "C3"]]  # C4 has one seed
    for row in table.itertuples():
        expected = scipy_test(GROUPS[row.config_a], GROUPS[row.config_b])
        assert row.p_value == pytest.approx(expected.pvalue, rel=1e-12)
        assert row.statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert (row.n_a, row.n_b) == (len(GROUPS[row.config_a]), len(GROUPS[row.config_b]))
        assert row.diff == pytest.approx(np.mean(GROUPS[row.config_b])
                                         - np.mean(GROUPS[row.config_a]))
    assert (table["test"] == test).all()


def test_holm_matches_the_hand_computed_step_down() -> None:
    # sorted p: 0.01, 0.02, 0.04 -> 3*0.01, max(0.03, 2*0.02), max(0.04, 1*0.04)
    assert holm([0.04, 0.01, 0.02]).tolist() == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]
    adjusted = holm([np.nan, 0.01])
    assert np.isnan(adjusted[0]) and adjusted[1] == pytest.approx(0.01)


def test_holm_is_applied_per_metric() -> None:
    finals = pd.concat([_finals(GROUPS, "a"), _finals({"C1": [1, 2], "C2": [3, 4]}, "b")])
    table = compare(finals)
    for _, part in table.groupby("metric"):
        assert part["p_holm"].tolist() == pytest.approx(holm(part["p_value"]).tolist())


def test_the_p_floor_note_of_three_seeds_a_side() -> None:
    table = compare(_finals({"C1": [1, 2, 3], "C2": [4, 5, 6]}))
    assert table["p_value"].iloc[0] == pytest.approx(0.1)  # the best 3 vs 3 can do
    assert "3 vs 3 seeds: 0.1" in significance.resolution_note(table, "mannwhitney")
    assert significance.resolution_note(table, "welch") == ""


def test_test_registry_validates() -> None:
    with pytest.raises(ConfigError, match=r"--test: unknown value 'ks'; choose from: mann"):
        compare(_finals(GROUPS), "ks")
    with pytest.raises(ValueError, match="already registered"):
        significance.TESTS.register("welch", significance.TESTS["welch"])
    with pytest.raises(ValueError, match="without spaces"):
        significance.TESTS.register("two words", significance.TESTS["welch"])
    with pytest.raises(TypeError, match="must be a PairTest"):
        significance.TESTS.register("fresh", lambda a, b: (0.0, 1.0))  # type: ignore[arg-type]
    assert isinstance(significance.TESTS["mannwhitney"], PairTest)
