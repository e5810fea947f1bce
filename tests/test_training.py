"""One run end to end into a real MLflow store: what it logs, how it resumes, how it ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import torch
import yaml
from runner_helpers import TINY_CHECKPOINTED as TINY
from runner_helpers import MemoryTracker

from benchmark.checkpoint import checkpoints, load_latest, save
from benchmark.run import main
from benchmark.training import CollapseMonitor

ROOT = Path(__file__).resolve().parents[1]


def write_grid(folder: Path, name: str, base: dict | None = None, **extra) -> Path:
    grid = {"name": name, "base": base or TINY, **extra}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(grid))
    return path


def store_args(folder: Path) -> list[str]:
    return ["--tracking-uri", f"sqlite:///{folder}/mlflow.db",
            "--checkpoint-dir", str(folder / "ckpt")]


def runs_of(folder: Path, experiment: str):
    client = mlflow.MlflowClient(f"sqlite:///{folder}/mlflow.db")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], "tags.`alibench.kind` = 'run'")
    return client, runs


def final_metrics(client, run, keys=("loss_d", "loss_g", "d_real", "d_fake", "recon_mse")):
    return {k: [(m.step, m.value) for m in sorted(client.get_metric_history(run.info.run_id, k),
                                                  key=lambda m: m.step)] for k in keys}


@pytest.mark.slow
def test_tiny_run_end_to_end_into_mlflow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = write_grid(tmp_path, "tiny")
    threads = torch.get_num_threads()
    try:
        assert main(["--grid", str(grid), *store_args(tmp_path), "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1  # --threads reached the run
    finally:
        torch.set_num_threads(threads)

    client, runs = runs_of(tmp_path, "tiny")
    (run,) = runs
    assert run.info.status == "FINISHED"
    tags, params = run.data.tags, run.data.params
    assert tags["outcome"] == "finished" and len(tags["run_key"]) == 12
    assert {"git_commit", "version.torch", "version.torchvision", "version.mlflow"} <= set(tags)
    assert params["data.dataset"] == "digits" and params["optim.name"] == "adam"
    assert params["model.width"] == "0.125" and params["stabilizers"] == "none"
    history = final_metrics(client, run, ("loss_d", "recon_mse", "cpu_time_s", "wall_time_s",
                                          "d_real", "d_fake", "loss_g"))
    assert [s for s, _ in history["loss_d"]] == [2, 4, 6, 8, 10, 12]
    assert [s for s, _ in history["recon_mse"]] == [4, 8, 12]
    assert all(0 < v < 1 for _, v in history["recon_mse"])
    cpu = [v for _, v in history["cpu_time_s"]]
    assert cpu == sorted(cpu) and cpu[0] > 0
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "panels")}
    assert {"panels/generation.png", "panels/reconstruction.png",
            "panels/interpolation.png"} <= artifacts
    # The grid run is named by a tag, not by MLflow's nesting (which hides the training runs
    # under a collapsed row in the UI).
    assert "mlflow.parentRunId" not in tags
    parent = client.get_run(tags["alibench.grid_run"])
    assert parent.data.tags["alibench.kind"] == "grid"
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "grid")] == ["grid/tiny.yaml"]
    # What the UI shows without a click: a training experiment, the description, the key
    # choices, the config's name shared by its seeds, and the datasets.
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert tags["alibench.config"] == run.info.run_name.removesuffix("-s0")
    assert tags["mlflow.note.content"].startswith("digits 28px, batch 50; z_dim 8, width 0.125; adam")
    assert (tags["dataset"], tags["optimizer"], tags["scheme"], tags["stabilizers"]) == (
        "digits", "adam", "alternating", "none")
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert sorted(inputs) == ["test", "train"]
    assert {d.name for d in inputs.values()} == {"digits"}
    assert json.loads(inputs["train"].profile)["samples"] == 1500
    assert inputs["train"].digest != inputs["test"].digest and len(inputs["train"].digest) == 8


def _run_cli(cwd: Path, args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "benchmark.run", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_metrics(tmp_path):
    base = {**TINY, "train": {"steps": 24, "log_every": 2, "eval_every": 4,
                              "checkpoint_every": 4}}
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    for folder in (killed, clean):
        folder.mkdir()
        write_grid(folder, "resume", base)

    proc = _run_cli(killed, ["--grid", "resume.yaml", *store_args(killed)],
                    start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        found = [c for d in (killed / "ckpt").glob("*") for c in checkpoints(d)]
        if any(step >= 8 for step, _ in found):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    client, (interrupted,) = runs_of(killed, "resume")
    assert interrupted.info.status == "RUNNING"  # killed mid-run, no chance to clean up

    for folder in (killed, clean):
        out = _run_cli(folder, ["--grid", "resume.yaml", *store_args(folder)])
        assert out.wait(timeout=600) == 0, out.stdout.read()

    client_k, runs_k = runs_of(killed, "resume")
    client_c, runs_c = runs_of(clean, "resume")
    assert len(runs_k) == 1, "the resumed run must continue the same MLflow run"
    assert runs_k[0].info.run_id == interrupted.info.run_id
    assert runs_k[0].info.status == "FINISHED"
    # Every step logged exactly once, with the values of the uninterrupted run.
    assert final_metrics(client_k, runs_k[0]) == final_metrics(client_c, runs_c[0])


@pytest.mark.slow
def test_divergence_and_errors_stay_in_their_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # MNIST files that are present (the grid's data check passes) but unreadable (the run fails).
    corrupt = tmp_path / "nowhere" / "mnist"
    corrupt.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (corrupt / name).write_bytes(b"not an idx file")
    grid = write_grid(tmp_path, "outcomes", runs=[
        {"optim.name": "sgd", "optim.lr_d": 1.0e6, "optim.lr_g": 1.0e6},  # diverges
        {"data.dataset": "mnist", "data.data_root": str(tmp_path / "nowhere")},  # fails
        {},  # finishes
    ])
    assert main(["--grid", str(grid), *store_args(tmp_path)]) == 1  # a run failed
    client, runs = runs_of(tmp_path, "outcomes")
    by_outcome = {r.data.tags["outcome"]: r for r in runs}
    assert set(by_outcome) == {"diverged", "failed", "finished"}
    diverged = by_outcome["diverged"]
    assert int(diverged.data.tags["diverged_step"]) >= 1
    assert "DataError" in by_outcome["failed"].data.tags["error"]
    assert "nowhere" in by_outcome["failed"].data.tags["error"]
    assert by_outcome["finished"].info.status == "FINISHED"

    # A rerun skips all three; --retry-failed retries only the failed and diverged ones.
    assert main(["--grid", str(grid), *store_args(tmp_path)]) == 0
    assert len(runs_of(tmp_path, "outcomes")[1]) == 3


@pytest.mark.slow
def test_a_discriminator_that_wins_is_tagged_collapsed_and_trains_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = {**TINY, "model": {"z_dim": 8, "width": 0.125, "dropout": 0.0},
            "optim": {"lr_d": 1e-2, "lr_g": 1e-12},  # the generator barely moves
            "train": {"steps": 60, "log_every": 2, "eval_every": 60, "checkpoint_every": 60,
                      "collapse_patience": 3}}
    grid = write_grid(tmp_path, "collapse", base)
    assert main(["--grid", str(grid), *store_args(tmp_path)]) == 0
    client, (run,) = runs_of(tmp_path, "collapse")
    assert run.data.tags.get("collapsed") == "true"
    assert run.data.tags["outcome"] == "finished"
    accuracy = client.get_metric_history(run.info.run_id, "d_accuracy_dec")
    assert max(m.step for m in accuracy) == 60  # trained on after collapsing


def test_collapse_monitor_needs_a_streak():
    monitor = CollapseMonitor(patience=3)
    assert [monitor.observe(a, a) for a in (1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0)] == [
        False, False, False, False, False, True, False]
    assert monitor.collapsed


def test_collapse_needs_each_pair_kind_above_the_threshold_not_their_mean():
    """The discriminator has won only if it wins on encoder AND decoder pairs: a mean of
    (1.0 + 0.985) / 2 > 0.99 is not a collapse while decoder pairs still fool it 1.5% of
    the time."""
    monitor = CollapseMonitor(patience=2)
    assert not any(monitor.observe(1.0, 0.985) for _ in range(5))
    assert not monitor.collapsed
    assert [monitor.observe(0.995, 0.995) for _ in range(2)] == [False, True]


def test_corrupt_checkpoint_falls_back_to_the_previous_one(tmp_path):
    save(tmp_path, 4, {"w": torch.ones(3)})
    newest = save(tmp_path, 8, {"w": torch.full((3,), 2.0)})
    newest.write_bytes(newest.read_bytes()[:50])  # truncated by a crash
    with pytest.warns(UserWarning, match="unreadable"):
        payload = load_latest(tmp_path)
    assert payload["step"] == 4 and torch.equal(payload["w"], torch.ones(3))
    (tmp_path / "step_000000004.pt").write_bytes(b"garbage")
    with pytest.warns(UserWarning):
        assert load_latest(tmp_path) is None  # nothing good left: start from scratch


def _tiny_config(**overrides):
    from benchmark.run_config import RunConfig, validate_run
    from benchmark.validation import from_dict, merge

    raw = merge(TINY, {"train": {"steps": 8, "log_every": 2, "eval_every": 4,
                                 "checkpoint_every": 4}, **overrides})
    cfg = from_dict(RunConfig, raw)
    validate_run(cfg)
    return cfg


@pytest.mark.slow
def test_a_run_resumed_from_its_final_checkpoint_returns_every_metric(tmp_path):
    """Averaged-parameter metrics included: the summary line of a rerun equals the first one's."""
    from benchmark.training import train

    cfg = _tiny_config(optim={"averaging": ["uniform", "ema"]})
    first = train(cfg, MemoryTracker(), tmp_path)
    assert {"recon_mse", "avg_uniform.recon_mse", "avg_ema.recon_mse"} <= set(first.metrics)
    again = train(cfg, MemoryTracker(), tmp_path)  # nothing left to train
    assert again.metrics == first.metrics


@pytest.mark.slow
def test_averaging_does_not_change_the_live_trajectory(tmp_path):
    from benchmark.training import train

    plain, averaged = MemoryTracker(), MemoryTracker()
    train(_tiny_config(), plain, tmp_path / "a")
    train(_tiny_config(optim={"averaging": ["ema"]}), averaged, tmp_path / "b")
    for key in ("loss_d", "loss_g", "recon_mse"):
        assert plain.metrics[key] == averaged.metrics[key], key


def test_a_zero_weight_cycle_term_trains_exactly_as_plain_ali(tmp_path):
    from benchmark.training import train

    plain, zero = MemoryTracker(), MemoryTracker()
    train(_tiny_config(), plain, tmp_path / "a")
    train(_tiny_config(stabilizers=[{"name": "cycle_consistency", "weight": 0.0}]), zero,
          tmp_path / "b")
    for key in ("loss_d", "loss_g", "recon_mse"):
        assert plain.metrics[key] == zero.metrics[key], key


@pytest.mark.slow
def test_a_cycle_consistency_run_resumes_exactly(tmp_path):
    """Interrupted after its step-4 checkpoint (the later one removed), the run ends with the
    numbers of the uninterrupted one."""
    from benchmark.training import train

    cfg = _tiny_config(stabilizers=[{"name": "cycle_consistency", "weight": 2.0}])
    clean, resumed = MemoryTracker(), MemoryTracker()
    train(cfg, clean, tmp_path / "clean")
    train(cfg, MemoryTracker(), tmp_path / "cut")
    for step, path in checkpoints(tmp_path / "cut"):
        if step > 4:
            path.unlink()
    result = train(cfg, resumed, tmp_path / "cut")
    assert resumed.metrics["loss_g"][8] == clean.metrics["loss_g"][8]
    assert result.metrics["recon_mse"] == clean.metrics["recon_mse"][8]
    assert clean.metrics["recon_mse"][8] != _plain_recon(tmp_path)


def _plain_recon(tmp_path):
    from benchmark.training import train

    plain = MemoryTracker()
    train(_tiny_config(), plain, tmp_path / "plain")
    return plain.metrics["recon_mse"][8]
