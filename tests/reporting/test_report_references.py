"""Published references: strict parsing (a table of bad inputs) and the band verdict."""

from __future__ import annotations

import math

import pytest

from benchmark.errors import ConfigError
from benchmark.reporting.references import (
    INSIDE,
    NO_BAND,
    NOT_MEASURED,
    OUTSIDE,
    MeasuredConfig,
    Reference,
    compare_references,
    parse_references,
    verdict,
)

GOOD = {"metric": "modes_covered", "mean": 13.4, "std": 5.8, "source": "Dumoulin et al. 2016",
        "settings": "25-Gaussian mixture, 10k samples"}


def test_a_full_reference_parses() -> None:
    [ref] = parse_references([{**GOOD, "where": {"optim.name": "adam", "optim.lr_g": 2e-4}}])
    assert ref == Reference("modes_covered", 13.4, "Dumoulin et al. 2016",
                            "25-Gaussian mixture, 10k samples", 5.8,
                            {"optim.name": "adam", "optim.lr_g": 2e-4})
    assert parse_references(None) == [] and parse_references([]) == []
    [no_std] = parse_references([{k: v for k, v in GOOD.items() if k != "std"}])
    assert no_std.std is None and no_std.where == {}


@pytest.mark.parametrize("raw, message", [
    ({"metric": "m"}, r"^references: expected a list of mappings"),
    (["x"], r"^references\[0\]: expected a mapping"),
    ([{**GOOD, "band": 1}], r"^references\[0\]: unknown key 'band'; choose from: metric, mean"),
    ([{k: v for k, v in GOOD.items() if k != "source"}], r"missing key 'source'"),
    ([{**GOOD, "mean": "13.4"}], r"^references\[0\]\.mean: expected a finite number, got '13.4'"),
    ([{**GOOD, "mean": True}], r"\.mean: expected a finite number, got True"),
    ([{**GOOD, "mean": float("nan")}], r"\.mean: expected a finite number"),
    ([{**GOOD, "std": -0.1}], r"^references\[0\]\.std: expected a finite number >= 0, got -0.1"),
    ([GOOD, {**GOOD, "metric": ""}], r"^references\[1\]\.metric: expected a non-empty string"),
    ([{**GOOD, "settings": 3}], r"\.settings: expected a non-empty string, got 3"),
    ([{**GOOD, "where": ["optim.name"]}], r"\.where: expected a mapping of param -> value"),
    ([{**GOOD, "where": {"optim.name": [1]}}], r"\.where\.optim\.name: expected a string, nu"),
])
def test_bad_references_are_one_line_config_errors(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_references(raw)
    assert "\n" not in str(info.value)


def test_verdict_is_inside_the_band_inclusive() -> None:
    ref = Reference("modes_covered", 13.4, "s", "t", 5.8)
    assert verdict(ref, 13.4) == INSIDE
    assert verdict(ref, 13.4 - 5.8) == INSIDE and verdict(ref, 13.4 + 5.8) == INSIDE
    assert verdict(ref, 7.5) == OUTSIDE and verdict(ref, 19.3) == OUTSIDE
    assert verdict(Reference("m", 1.0, "s", "t"), 1.0) == NO_BAND


def test_where_selects_configs_by_their_logged_params() -> None:
    refs = parse_references([{**GOOD, "where": {"optim.lr_g": 2e-4, "scheme.resample": True}}])
    configs = [
        MeasuredConfig("hit", {"optim.lr_g": "0.0002", "scheme.resample": "True"},
                       {"modes_covered": [12.0, 14.0, 16.0]}),
        MeasuredConfig("other lr", {"optim.lr_g": "0.0005", "scheme.resample": "True"},
                       {"modes_covered": [1.0, 2.0]}),
        MeasuredConfig("no resample", {"optim.lr_g": "0.0002", "scheme.resample": "False"},
                       {"modes_covered": [1.0, 2.0]}),
    ]
    [row] = compare_references(refs, configs)
    assert (row.config, row.n, row.mean, row.std, row.verdict) == ("hit", 3, 14.0, 2.0, INSIDE)


def test_a_reference_no_config_measured_says_so() -> None:
    refs = parse_references([{**GOOD, "metric": "knn_acc"}])
    [row] = compare_references(refs, [MeasuredConfig("a", {}, {"modes_covered": [1.0]})])
    assert row.verdict == NOT_MEASURED and row.n == 0 and math.isnan(row.mean)


def test_the_report_reads_grid_files_as_the_runner_does(tmp_path):
    """`1e-3` is a number in a reference's `where` as in the grid's configs (YAML 1.1 alone
    would keep it the string '1e-3', which never equals a logged '0.001'); a repeated key is
    refused as the runner refuses it."""
    from benchmark.report import read_grid

    grid = tmp_path / "g.yaml"
    grid.write_text("name: g\nreferences:\n  - {metric: recon_mse, mean: 1.5e-2, source: s, "
                    "settings: t, where: {optim.lr_g: 1e-3}}\n")
    name, (reference,) = read_grid(str(grid))
    assert name == "g" and reference.mean == 0.015
    assert reference.applies_to({"optim.lr_g": "0.001"})
    grid.write_text("name: g\nname: h\n")
    with pytest.raises(ConfigError):
        read_grid(str(grid))
