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
from runner_helpers import MemoryTracker, saved_checkpoints

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
        if any(step >= 8 for steps in saved_checkpoints(killed / "ckpt").values()
               for step in steps):
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


# Logged (d_accuracy_enc, d_accuracy_dec) like those of the two 2.048-step SGD runs of
# results/sem_vs_sgd_lr whose discriminator won, at batch 100: seed 1 (loss_d 0.07) right on
# nearly every pair, seed 0 (loss_d 0.11) won as clearly but missing a decoder pair or two in
# most batches. The rule before the window flagged the first only.
WON_LIKE_SEED_1 = [(1.0, 1.0), (1.0, 0.99), (1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (1.0, 1.0)]
WON_LIKE_SEED_0 = [(1.0, 0.99), (1.0, 1.0), (0.99, 0.98), (1.0, 0.99), (1.0, 1.0), (1.0, 0.97),
                   (0.99, 1.0), (1.0, 0.98)]
BALANCED = [(0.55, 0.48), (0.61, 0.57), (0.5, 0.66), (0.58, 0.52), (0.63, 0.6), (0.54, 0.49)]


def _first_collapse(observations, patience=3):
    monitor = CollapseMonitor(patience)
    flags = [monitor.observe(enc, dec) for enc, dec in observations]
    return flags.index(True) if any(flags) else None


def _old_rule_flags(observations, patience=3):
    """The rule before: each logged value above 99% on both kinds, `patience` times in a row."""
    streak = 0
    for enc, dec in observations:
        streak = streak + 1 if min(enc, dec) > 0.99 else 0
        if streak >= patience:
            return True
    return False


def test_both_runs_whose_discriminator_won_are_flagged_by_the_one_rule():
    assert _old_rule_flags(WON_LIKE_SEED_1) and not _old_rule_flags(WON_LIKE_SEED_0)
    assert _first_collapse(WON_LIKE_SEED_1) == 2  # as soon as the window is full
    assert _first_collapse(WON_LIKE_SEED_0) == 2
    assert _first_collapse(BALANCED) is None


def test_collapse_needs_a_full_window_and_each_pair_kind_won():
    """A one-batch spike is not a win; nor is a discriminator that is right on every encoder
    pair while decoder pairs fool it a third of the time."""
    spike = [(0.6, 0.55), (1.0, 1.0), (0.62, 0.5), (0.58, 0.61), (1.0, 1.0), (0.6, 0.57)]
    assert _first_collapse(spike) is None
    assert _first_collapse([(1.0, 0.66)] * 10) is None
    assert _first_collapse([(1.0, 1.0)] * 2) is None  # the window never fills
    monitor = CollapseMonitor(patience=2)
    assert [monitor.observe(1.0, 1.0) for _ in range(4)] == [False, True, False, False]
    assert monitor.collapsed  # once


def test_collapse_monitor_resumes_mid_window_to_the_same_decision():
    observations = WON_LIKE_SEED_0
    whole = CollapseMonitor(4)
    flags = [whole.observe(*o) for o in observations]
    first = CollapseMonitor(4)
    for o in observations[:2]:
        first.observe(*o)
    resumed = CollapseMonitor.from_state(4, first.state_dict())
    assert [resumed.observe(*o) for o in observations[2:]] == flags[2:]
    # A checkpoint of the rule before (a streak) restarts the window and keeps the outcome.
    assert CollapseMonitor.from_state(3, {"streak": 2, "collapsed": True}).collapsed
    assert CollapseMonitor.from_state(3, {"streak": 2, "collapsed": False}).window == []


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


@pytest.mark.parametrize("bn_stats", ["recomputed", "running"])
def test_the_untrained_baseline_is_scored_like_the_models_and_moves_nothing(
        tmp_path, monkeypatch, bn_stats):
    """Each live metric K is logged at step 0 as untrained_K, scored by the protocol the trained
    networks get; the run trains bit for bit as one that skips it, and a resume logs it once."""
    from benchmark.evaluation.evaluator import Evaluator
    from benchmark.training import train

    cfg = _tiny_config(eval={"bn_stats": bn_stats, "metrics": ["recon_mse", "knn"],
                             "recon_count": 64, "knn_train_count": 300,
                             "probe_test_count": 100})
    scored = MemoryTracker()
    train(cfg, scored, tmp_path / "scored")
    assert {"untrained_recon_mse", "untrained_recon_mse_mean", "untrained_knn_acc"} <= set(
        scored.at_step(0))
    # The run's encoder at step 0 is the random encoder of the knn_acc_random baseline (both
    # from the run's seed), so one protocol gives both the same number.
    assert scored.metrics["untrained_knn_acc"][0] == scored.metrics["knn_acc_random"][0]
    assert scored.metrics["untrained_recon_mse"][0] != scored.metrics["recon_mse"][4]

    monkeypatch.setattr(Evaluator, "untrained", lambda self, ali: {})
    skipped = MemoryTracker()
    train(cfg, skipped, tmp_path / "skipped")
    assert not any(k.startswith("untrained_") for k in skipped.metrics)
    for key in ("loss_d", "loss_g", "grad_norm_d", "grad_norm_g", "d_logit_dec", "recon_mse"):
        assert scored.metrics[key] == skipped.metrics[key], key
    monkeypatch.undo()

    for step, path in checkpoints(tmp_path / "scored"):
        if step > 4:
            path.unlink()
    resumed = MemoryTracker()
    train(cfg, resumed, tmp_path / "scored")
    assert 0 not in resumed.steps()


EIGHT_STEPS = {"steps": 8, "log_every": 2, "eval_every": 4, "checkpoint_every": 4}
AUTOENCODER = {"train": {**EIGHT_STEPS, "objective": "autoencoder"},
               "stabilizers": [{"name": "cycle_consistency", "weight": 2.0, "z_weight": 0.5}]}


def test_the_autoencoder_trains_encoder_and_decoder_on_the_cycle_terms_alone(tmp_path):
    from benchmark.run_config import config_key, run_key, run_name
    from benchmark.training import train

    cfg = _tiny_config(**AUTOENCODER)
    cycle = _tiny_config(stabilizers=AUTOENCODER["stabilizers"])
    assert "-autoencoder-cycle_consistency(weight=2.0,z_weight=0.5)-" in run_name(cfg)
    assert run_key(cfg) != run_key(cycle) and config_key(cfg) != config_key(cycle)
    # Runs from before the field keep their keys: `ali` written out is the default, unkeyed.
    assert run_key(_tiny_config(train={**EIGHT_STEPS, "objective": "ali"})) == run_key(
        _tiny_config())

    tracker = MemoryTracker()
    result = train(cfg, tracker, tmp_path)
    assert result.outcome == "finished" and not result.collapsed
    logged = tracker.at_step(8)
    assert {"loss_g", "grad_norm_g", "recon_mse"} <= set(logged)
    assert not {"loss_d", "grad_norm_d", "d_real", "d_accuracy_enc"} & set(tracker.metrics)
    assert tracker.metrics["grad_evals"][8] == 8  # one forward pass a step: no D step
    assert tracker.metrics["recon_mse"][8] < tracker.metrics["untrained_recon_mse"][0]
    # The discriminator never moves; the encoder and decoder do.
    from benchmark.data import load_dataset
    from benchmark.models import build_ali
    from benchmark.training import seed_everything

    seed_everything(cfg.seed, torch.device("cpu"))
    data = load_dataset(cfg.data, cfg.seed)
    initial = build_ali(cfg.model, tuple(data.train.x.shape[1:])).state_dict()
    final = load_latest(tmp_path)["ali"]
    moved = {k.split(".")[0] for k in initial if not torch.equal(initial[k], final[k])}
    assert moved == {"encoder", "decoder"}


@pytest.mark.parametrize("raw, pattern", [
    ({"train": {**EIGHT_STEPS, "objective": "autoencoder"}},
     r"^train\.objective: 'autoencoder' .* none is listed"),
    ({**AUTOENCODER, "stabilizers": [{"name": "cycle_consistency", "weight": 1.0},
                                     {"name": "instance_noise"}]},
     r"^stabilizers\[1\]\.name: 'instance_noise' adds nothing"),
    ({**AUTOENCODER, "stabilizers": [{"name": "cycle_consistency", "weight": 0.0}]},
     r"^stabilizers\[0\]\.name: 'cycle_consistency' adds nothing"),
    ({**AUTOENCODER, "scheme": {"d_steps": 5}}, r"^scheme\.d_steps: 5 has no effect"),
    ({"train": {**EIGHT_STEPS, "objective": "vae"}}, r"^train\.objective: .*'vae'.*ali.*autoencoder"),
])
def test_an_autoencoder_it_cannot_train_is_refused_in_one_line(raw, pattern):
    from benchmark.errors import ConfigError

    with pytest.raises(ConfigError, match=pattern) as err:
        _tiny_config(**raw)
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_the_autoencoder_runs_through_the_cli_and_resumes_exactly_after_a_kill(tmp_path):
    """Killed between checkpoints, rerun: the same MLflow run ends with the numbers of an
    uninterrupted one."""
    from runner_helpers import history, run_cli, start_session, stop_session, training_runs
    from runner_helpers import store_args as helper_store_args
    from runner_helpers import write_grid as helper_write_grid

    base = {**AUTOENCODER, "train": {"objective": "autoencoder", "steps": 40, "log_every": 2,
                                     "eval_every": 4, "checkpoint_every": 4}}
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    for folder in (killed, clean):
        folder.mkdir()
        helper_write_grid(folder / "ae.yaml", "ae", base)
    args = ["--grid", "ae.yaml", *helper_store_args(killed)]
    proc = start_session([sys.executable, "-m", "benchmark.run", *args], killed / "log.txt",
                         cwd=killed)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if any(step >= 8 for steps in saved_checkpoints(killed / "ckpt").values()
               for step in steps):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    stop_session(proc, grace=0.0)
    for folder in (killed, clean):
        out = run_cli(["--grid", "ae.yaml", *helper_store_args(folder)], cwd=folder)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "-autoencoder-cycle_consistency" in out.stdout
    (run_k,), (run_c,) = training_runs(killed, "ae"), training_runs(clean, "ae")
    assert run_k.data.params["train.objective"] == "autoencoder"
    assert run_k.data.tags["outcome"] == "finished"
    for key in ("loss_g", "grad_norm_g", "recon_mse", "untrained_recon_mse", "grad_evals"):
        assert history(killed, run_k.info.run_id, key) == history(clean, run_c.info.run_id, key)
    assert [s for s, _ in history(killed, run_k.info.run_id, "loss_g")] == list(range(2, 41, 2))
