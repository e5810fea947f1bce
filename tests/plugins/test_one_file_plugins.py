"""Each extension point takes one plug-in file (`one_file/`), imported as `--plugin` imports it,
with no edit anywhere else: an optimizer with a new option, a scheme with an option, a metric
with a curve. docs/extending.md shows the same three."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
import yaml

from benchmark.errors import ConfigError
from benchmark.evaluation import METRICS
from benchmark.grid import load_grid
from benchmark.optimizers import OPTIMIZERS, build_optimizer
from benchmark.plugins import load_plugins
from benchmark.reporting.build import build
from benchmark.reporting.design import Design
from benchmark.reporting.loading import assemble, points_frame
from benchmark.reporting.plots import wants_history
from benchmark.run import main as run_main
from benchmark.run_config import describe_config, flat_params, run_name
from benchmark.schemes import SCHEMES
from benchmark.tracking import RunRecord

FOLDER = Path(__file__).parent / "one_file"
REGISTERED = {"lab_optimizer": (OPTIMIZERS, "adagrad"), "lab_scheme": (SCHEMES, "generator_first"),
              "lab_metric": (METRICS, "recon_l1")}
TINY = {"data": {"dataset": "digits", "batch_size": 50}, "model": {"z_dim": 8, "width": 0.125},
        "train": {"steps": 4, "log_every": 2, "eval_every": 4, "checkpoint_every": 4},
        "eval": {"metrics": ["recon_mse"], "recon_count": 60, "panel_count": 4,
                 "interpolation_steps": 4}}


@pytest.fixture
def lab(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """`lab(module)`: import one plug-in file of one_file/ as `--plugin module` does; its
    registration is undone after the test."""
    monkeypatch.syspath_prepend(str(FOLDER))
    loaded: list[str] = []

    def load(module: str) -> None:
        load_plugins([module])
        loaded.append(module)

    yield load
    for module in loaded:
        registry, name = REGISTERED[module]
        registry.unregister(name)
        del sys.modules[module]


def grid(tmp_path: Path, name: str, base: dict, **rest) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "base": {**TINY, **base}, **rest}))
    return path


def test_an_optimizer_with_a_new_option_is_one_file(lab, tmp_path) -> None:
    lab("lab_optimizer")
    runs = load_grid(grid(tmp_path, "adagrad", {"optim": {"name": "adagrad"}},
                          axes={"optim.lr_decay": [0.0, 1e-3]})).runs
    assert [run_name(r) for r in runs] == [
        "digits-adagrad-alternating-none-lr0.0002_0.0001-s0",
        "digits-adagrad-alternating-lr_decay0.001-none-lr0.0002_0.0001-s0"]
    assert flat_params(runs[1])["optim.lr_decay"] == "0.001"
    built = build_optimizer("adagrad", [torch.zeros(1, requires_grad=True)], 0.1,
                            runs[1].optim.options)
    assert built.defaults["lr_decay"] == 1e-3
    with pytest.raises(ConfigError, match=r"^optim\.lr_decay: value 0\.001 has no effect with "
                                          r"optim\.name 'adam'; leave it at 0\.0"):
        load_grid(grid(tmp_path, "bad", {"optim": {"name": "adam", "lr_decay": 1e-3}}))


def test_a_scheme_with_an_option_is_one_file(lab, tmp_path) -> None:
    lab("lab_scheme")
    path = grid(tmp_path, "gfirst", {"scheme": {"name": "generator_first", "g_steps": 3},
                                     "train": {**TINY["train"], "grad_evals": 8}})
    [cfg] = load_grid(path).runs
    assert run_name(cfg) == "digits-adam-generator_first-g3-none-lr0.0002_0.0001-s0"
    assert "; generator_first (3 G steps); " in describe_config(cfg)
    with pytest.raises(ConfigError, match=r"^scheme\.g_steps: value 3 has no effect with "
                                          r"scheme\.name 'alternating'; leave it at 1 \(taken "
                                          r"by scheme\.name: generator_first\)$"):
        load_grid(grid(tmp_path, "bad", {"scheme": {"g_steps": 3}}))
    store = tmp_path / "store"
    assert run_main(["--grid", str(path), "--tracking-uri", f"sqlite:///{store}/mlflow.db",
                     "--checkpoint-dir", str(store / "ckpt"), "--threads", "1"]) == 0
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{store}/mlflow.db")
    [run] = client.search_runs([client.get_experiment_by_name("gfirst").experiment_id],
                               "tags.`alibench.kind` = 'run'")
    assert run.data.tags["outcome"] == "finished"
    assert run.data.metrics["grad_evals"] == 8  # 2 steps of 3 G + 1 D forward passes


def _runs(seeds: int = 2) -> tuple[list[RunRecord], list[tuple]]:
    """Two seeds of one config that logged recon_l1 (falling), its baseline and the compute
    axes at every evaluation, as training logs them."""
    records, points = [], []
    for seed in range(seeds):
        run_id = f"run{seed}"
        params = {"data.dataset": "digits", "optim.name": "adam", "optim.lr_g": "0.0002",
                  "optim.lr_d": "0.0001", "seed": str(seed), "eval.recon_count": "60",
                  "train.steps": "40"}
        history = {"recon_l1": [(s, 0.4 - 0.005 * s + 0.01 * seed) for s in (10, 20, 30, 40)],
                   "recon_l1_mean_image": [(0, 0.35)],
                   "grad_evals": [(s, 2.0 * s) for s in (10, 20, 30, 40)],
                   "cpu_time_s": [(s, 0.5 * s) for s in (10, 20, 30, 40)]}
        for key, values in history.items():
            points += [(run_id, key, step, 1000 + step, value) for step, value in values]
        records.append(RunRecord(run_id, f"adam-s{seed}", 1000 + seed, params,
                                 {"run_key": f"k{seed}", "config_key": "c", "outcome": "finished"},
                                 {k: v[-1][1] for k, v in history.items()}))
    return records, points


def test_a_metric_with_a_curve_is_one_file(lab, tmp_path) -> None:
    lab("lab_metric")
    records, points = _runs()
    frame = points_frame(*map(list, zip(*points, strict=True)))
    data = assemble("l1", "memory", records, frame, 0, wants_history)
    out = tmp_path / "report"
    build(data, Design(headline="recon_l1"), [], None, out, "mannwhitney")
    page = (out / "index.html").read_text(encoding="utf-8")
    for title in ("Reconstruction L1 against steps", "Reconstruction L1 against CPU time",
                  "Reconstruction L1 against gradient evaluations"):
        assert f"<b>{title}.</b>" in page, title
    assert "Reconstruction L1 on held-out images against training steps" in page
    curves = (out / "plots" / "metrics_grad_evals.svg").read_text(encoding="utf-8")
    assert "recon_l1 against gradient evaluations" in curves
    assert 'id="baseline-recon_l1_mean_image' in (out / "plots" / "recon_steps.svg").read_text(
        encoding="utf-8")  # its declared baseline, drawn beside its curve
    summary = (out / "summary.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "recon_l1 mean" in summary and "recon_l1_mean_image mean" in summary
