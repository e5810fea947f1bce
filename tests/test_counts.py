"""Eval counts left out fit the split: min(default, split size), resolved into the params and
the run key; the same config with its defaults written out is the same run."""

import re
from pathlib import Path

import pytest
import yaml
from runner_helpers import client, run_cli, store_args, training_runs

from benchmark.errors import ConfigError
from benchmark.evaluation.settings import COUNT_DEFAULTS, EvalConfig, resolve_counts
from benchmark.grid import expand_grid
from benchmark.preflight import check_data
from benchmark.run import main
from benchmark.run_config import config_key, flat_params, run_key

DIGITS = {"train": 1500, "test": 297}  # the embedded digits' splits
# What every count left out resolves to on digits: the test-bound ones cut to its 297 images.
DIGITS_RESOLVED = {"recon_count": 297, "probe_test_count": 297, "knn_train_count": 1500,
                   "fid_gen_count": 5000, "fid_real_count": 297, "kid_subset_size": 100}


def _digits(eval_section: dict | None = None, metrics: list[str] | None = None) -> dict:
    section = {"metrics": metrics or ["recon_mse"], **(eval_section or {})}
    return {"name": "x", "base": {"data": {"dataset": "digits"}, "eval": section}}


def test_every_count_left_out_fits_the_default_dataset():
    cfg = expand_grid({"name": "x", "base": {"data": {"dataset": "digits"}}}).runs[0]
    assert {name: getattr(cfg.eval, name) for name in COUNT_DEFAULTS} == DIGITS_RESOLVED
    params = flat_params(cfg)
    assert params["eval.recon_count"] == "297" and params["eval.fid_real_count"] == "297"


def test_fid_and_kid_default_to_5000_against_5000_where_the_split_allows():
    big = resolve_counts(EvalConfig(metrics=["fid"]), {"train": 60000, "test": 10000})
    assert (big.fid_gen_count, big.fid_real_count, big.kid_subset_size) == (5000, 5000, 100)
    small = resolve_counts(EvalConfig(metrics=["fid"]), {"train": 60, "test": 40})
    assert (small.fid_gen_count, small.fid_real_count, small.kid_subset_size) == (5000, 40, 40)
    unknown = resolve_counts(EvalConfig(metrics=["fid"]), {})  # data fetched at the run's start
    assert (unknown.fid_real_count, unknown.recon_count) == (5000, 500)


@pytest.mark.parametrize("metrics", [["recon_mse"], ["recon_mse", "probe", "knn", "recon_acc"],
                                     ["recon_mse", "fid", "prdc"]])
def test_defaults_written_out_or_left_out_are_one_run_key(metrics):
    left_out = expand_grid(_digits(metrics=metrics)).runs[0]
    written = expand_grid(_digits(DIGITS_RESOLVED, metrics)).runs[0]
    spelled_null = expand_grid(_digits(dict.fromkeys(DIGITS_RESOLVED), metrics)).runs[0]
    assert run_key(left_out) == run_key(written) == run_key(spelled_null)
    assert config_key(left_out) == config_key(written)
    assert flat_params(left_out) == flat_params(written)
    # a count the metrics read is in the key: changing it is another run
    assert run_key(expand_grid(_digits({"recon_count": 200}, metrics)).runs[0]) != \
        run_key(left_out)


def test_a_count_no_metric_reads_does_not_move_the_key():
    """recon_mse reads none of the FID counts, so they cannot change its numbers; fid does."""
    plain = expand_grid(_digits()).runs[0]
    other = expand_grid(_digits({"fid_gen_count": 700, "fid_real_count": 100})).runs[0]
    assert run_key(plain) == run_key(other)
    fid = expand_grid(_digits(metrics=["fid"])).runs[0]
    fid_other = expand_grid(_digits({"fid_gen_count": 700}, ["fid"])).runs[0]
    assert run_key(fid) != run_key(fid_other)


@pytest.mark.parametrize(("section", "message"), [
    ({"recon_count": 500}, r"^error: eval\.recon_count: 500 exceeds the 297 test samples of digits"),
    ({"metrics": ["recon_mse", "probe"], "probe_test_count": 298},
     r"^error: eval\.probe_test_count: 298 exceeds the 297 test samples of digits"),
    ({"metrics": ["fid"], "fid_real_count": 300},
     r"^error: eval\.fid_real_count: 300 exceeds the 297 test samples of digits"),
])
def test_a_count_written_out_beyond_the_split_is_still_refused(tmp_path, section, message,
                                                               capsys, monkeypatch):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump(_digits(section)))
    monkeypatch.chdir(tmp_path)
    assert main(["--grid", str(grid), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.match(message, err), err
    assert list(tmp_path.iterdir()) == [grid]  # nothing created
    with pytest.raises(ConfigError):  # and from the API, before any run exists
        check_data(expand_grid(_digits(section)).runs)


@pytest.mark.slow
def test_the_simplest_grid_on_the_default_dataset_trains(tmp_path: Path):
    """`name: x` + digits, every other field at its default but the length of the run."""
    grid = tmp_path / "x.yaml"
    grid.write_text("name: x\nbase: {data: {dataset: digits}}\n")
    done = run_cli(["--grid", str(grid), *store_args(tmp_path), "--set", "train.steps=2",
                    "--set", "model.width=0.125"], tmp_path)
    assert done.returncode == 0, done.stderr
    (run,) = training_runs(tmp_path, "x")
    assert run.data.tags["outcome"] == "finished"
    assert run.data.params["eval.recon_count"] == "297"
    assert "recon_mse" in client(tmp_path).get_run(run.info.run_id).data.metrics
