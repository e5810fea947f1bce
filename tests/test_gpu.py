"""The CUDA path as far as a machine without CUDA can check it: the device refused in one line
before anything is created, the speed switches validated and keyed only off their defaults,
bf16 and NCHW runs that train, the RNG state and the data path, and bench/gpu.py's code paths
run with the device forced to the CPU (docs/gpu.md)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from environment import TINY_DATA
from runner_helpers import TINY_BASE, MemoryTracker, cli_env, run_cli, store_args, write_grid

from bench import gpu
from benchmark import checkpoint
from benchmark.data.sampler import BatchSampler
from benchmark.data.samples import IMAGE, Samples
from benchmark.errors import ConfigError
from benchmark.grid import expand_grid, load_grid
from benchmark.precision import PRECISIONS
from benchmark.run_config import run_key
from benchmark.training import train
from benchmark.validation import merge

ROOT = Path(__file__).resolve().parents[1]
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")


def tiny(**sections) -> object:
    (cfg,) = expand_grid({"name": "t", "base": merge(TINY_BASE, sections)}, "test").runs
    return cfg


# --- the device ----------------------------------------------------------------------------------

@no_cuda
def test_cuda_where_there_is_none_is_one_line_before_anything_is_created(tmp_path):
    grid = write_grid(tmp_path / "g.yaml", "nocuda", {"device": "cuda"})
    for executor in (["--executor", "local"], ["--executor", "processes", "--workers", "2"]):
        out = run_cli(["--grid", str(grid), *store_args(tmp_path), *executor], tmp_path)
        assert out.returncode == 2
        (line,) = out.stderr.strip().splitlines()
        assert line.startswith("error: device: 'cuda' is not available here") and "auto, cpu" in line
        assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "ckpt").exists()


@no_cuda
def test_a_run_asking_for_cuda_refuses_before_it_builds_anything(tmp_path):
    """The second line of defence, for runs on other nodes (Ray): `train` refuses at once."""
    tracker = MemoryTracker()
    with pytest.raises(ConfigError, match=r"^device: 'cuda' is not available here"):
        train(tiny(device="cuda"), tracker, tmp_path / "ckpt")
    assert tracker.metrics == {} and tracker.datasets == []
    assert not (tmp_path / "ckpt").exists()


def test_importing_the_package_sets_cublas_workspace_config_unless_the_user_did():
    env = {k: v for k, v in cli_env().items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    code = "import os, benchmark; print(os.environ['CUBLAS_WORKSPACE_CONFIG'])"
    run = [sys.executable, "-c", code]
    assert subprocess.run(run, env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == ":4096:8"
    env["CUBLAS_WORKSPACE_CONFIG"] = ":16:8"
    assert subprocess.run(run, env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == ":16:8"


# --- the switches: validated, and in the run key only off their defaults ------------------------

QUICKSTART_KEYS = ["44a713481c0b", "e47235b18a06", "8cc436bb33ca", "db67de2bec2f"]
SEM_VS_SGD_KEYS = ["be2edd0fb20c", "fa3113d41196", "44720dcd7882", "710e3b659204",
                   "61c52a02ac56", "b3a0725cad12"]


def test_published_grids_keep_their_run_keys():
    """Computed before the switches existed (at 7d6f6e4): runs in existing stores resume."""
    assert [run_key(r) for r in load_grid(ROOT / "grids/quickstart.yaml").runs] == QUICKSTART_KEYS
    assert [run_key(r) for r in load_grid(ROOT / "grids/sem_vs_sgd.yaml").runs] == SEM_VS_SGD_KEYS


@pytest.mark.parametrize("field, value", [("precision", "bf16"), ("precision", "tf32"),
                                          ("memory_format", "contiguous"),
                                          ("cudnn_benchmark", True), ("compile", True)])
def test_each_switch_is_keyed_only_off_its_default(field, value):
    plain = run_key(tiny())
    defaults = {"precision": "fp32", "memory_format": "channels_last", "cudnn_benchmark": False,
                "compile": False}
    assert run_key(tiny(train={field: defaults[field]})) == plain
    assert run_key(tiny(train={field: value})) != plain


@pytest.mark.parametrize("field, value, message", [
    ("precision", "fp16", "train.precision: unknown value 'fp16'; choose from: bf16, fp32, tf32"),
    ("memory_format", "nhwc", "train.memory_format: unknown value 'nhwc'; choose from: "
                              "channels_last, contiguous"),
    ("cudnn_benchmark", "yes", "train.cudnn_benchmark: expected true or false, got 'yes'"),
    ("compile", 1, "train.compile: expected true or false, got 1"),
])
def test_a_bad_switch_is_one_line_naming_field_value_and_choices(field, value, message):
    with pytest.raises(ConfigError) as err:
        tiny(train={field: value})
    assert str(err.value) == message


def test_compile_is_refused_with_a_double_backward_stabilizer():
    with pytest.raises(ConfigError, match=r"^train.compile: true does not fit stabilizer "
                                          r"'gradient_penalty'"):
        tiny(train={"compile": True}, stabilizers=[{"name": "gradient_penalty"}])


def test_bf16_puts_the_forward_pass_in_bfloat16_and_fp32_restores_ieee_math():
    conv = torch.nn.Conv2d(3, 4, 3)
    x = torch.rand(2, 3, 8, 8)
    with PRECISIONS.get("bf16").autocast(torch.device("cpu")):
        assert conv(x).dtype == torch.bfloat16
    with PRECISIONS.get("fp32").autocast(torch.device("cpu")):
        assert conv(x).dtype == torch.float32
    before = torch.backends.cuda.matmul.fp32_precision
    with PRECISIONS.get("fp32").update():
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
    with PRECISIONS.get("tf32").update():
        assert torch.backends.cudnn.conv.fp32_precision == "tf32"
    assert torch.backends.cuda.matmul.fp32_precision == before


# --- bf16 and NCHW runs train on the CPU --------------------------------------------------------

def _finished(cfg, folder: Path) -> MemoryTracker:
    tracker = MemoryTracker()
    result = train(cfg, tracker, folder)
    assert result.outcome == "finished"
    last = tracker.at_step(cfg.train.steps)
    assert all(math.isfinite(last[k]) for k in ("loss_d", "loss_g", "recon_mse"))
    return tracker


def test_bf16_and_nchw_runs_finish_with_finite_numbers_on_the_cpu(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        short = {"steps": 4, "log_every": 2, "eval_every": 4, "checkpoint_every": 4}
        fp32 = _finished(tiny(train=short), tmp_path / "fp32")
        bf16 = _finished(tiny(train={**short, "precision": "bf16"}), tmp_path / "bf16")
        nchw = _finished(tiny(train={**short, "memory_format": "contiguous"}), tmp_path / "nchw")
    finally:
        torch.set_num_threads(threads)
    # bf16 took effect: other rounding in training; evaluation stays float32, so the untrained
    # networks (same seed, same weights) score the same at step 0.
    assert bf16.at_step(4)["loss_d"] != fp32.at_step(4)["loss_d"]
    assert bf16.at_step(0) == fp32.at_step(0)
    saved = checkpoint.load_latest(tmp_path / "nchw")
    conv = next(v for k, v in saved["ali"].items() if v.dim() == 4 and v.shape[1] > 1)
    assert conv.is_contiguous() and not conv.is_contiguous(memory_format=torch.channels_last)
    # NCHW weights: the same function through other kernels (training trajectories part after
    # a few updates, bench/gpu.py's `first_update`), so the untrained networks score alike.
    untrained_nchw, untrained = nchw.at_step(0), fp32.at_step(0)
    assert untrained_nchw.keys() == untrained.keys()
    assert all(math.isclose(untrained_nchw[k], v, rel_tol=1e-4, abs_tol=1e-6)
               for k, v in untrained.items())


# --- RNG state and data path --------------------------------------------------------------------

def test_the_rng_state_holds_cuda_generators_exactly_when_the_run_is_on_cuda():
    cpu = checkpoint.rng_state(torch.device("cpu"))
    assert "cuda" not in cpu
    torch.manual_seed(3)
    state = checkpoint.rng_state(torch.device("cpu"))
    first = (torch.rand(5), torch.randn(3))
    torch.manual_seed(4)
    checkpoint.set_rng_state(state, torch.device("cpu"))
    again = (torch.rand(5), torch.randn(3))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


def test_the_sampler_cuts_batches_on_the_device_its_samples_live_on():
    """Data moved once (`training.on_device`) stays there: no per-step copy through the CPU.
    The meta device stands in for CUDA: a real torch device, without one here."""
    samples = Samples(torch.zeros(30, 1, 4, 4, dtype=torch.uint8, device="meta"),
                      torch.arange(30), IMAGE)
    x, y = BatchSampler(samples, 10, seed=0).next()
    assert x.device.type == "meta" and x.dtype == torch.float32 and x.shape == (10, 1, 4, 4)


def test_loading_the_cached_classifier_leaves_the_training_stream_alone(tmp_path):
    """Found by bench/gpu.py's evaluation check: a run that loaded the FID/recon_acc classifier
    from the cache drew the classifier's initial weights from the run's stream before step 1, so
    it trained on other noise than the run that had trained (and cached) it, seed for seed."""
    from benchmark.evaluation.classifier import ClassifierSettings, load_or_train_classifier

    x = torch.randint(0, 256, (100, 1, 28, 28), dtype=torch.uint8)
    y = torch.arange(100) % 10
    settings = ClassifierSettings(channels=1, image_size=28, num_classes=10, epochs=1,
                                  train_count=100, seed=0, min_updates=2)
    for _ in ("train and cache", "load"):
        torch.manual_seed(0)
        before = torch.get_rng_state()
        load_or_train_classifier(tmp_path / "c.pt", settings, (x, y), (x, y))
        assert torch.equal(torch.get_rng_state(), before)
    assert (tmp_path / "c.pt").exists()


# --- bench/gpu.py --------------------------------------------------------------------------------

def _bench(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**cli_env(), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "bench/gpu.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@no_cuda
def test_bench_gpu_says_in_one_line_that_there_is_no_cuda_and_exits_0(tmp_path):
    out = _bench(["--out", str(tmp_path / "out")], tmp_path)
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.strip().splitlines()
    assert line.startswith("bench/gpu.py: no CUDA device here")
    assert not (tmp_path / "out").exists()


def test_bench_gpu_runs_its_throughput_and_agreement_code_on_the_cpu(tmp_path):
    """The fast tier: the throughput section as a user runs it, and the in-process checks of
    the correctness section that train nothing (the slow tier runs the whole script)."""
    out = _bench(["--device", "cpu", "--out", str(tmp_path), "--sections", "throughput",
                  "--variants", "fp32,bf16 NCHW", "--schemes", "alternating"], tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "gpu.json").read_text())
    rows = report["sections"]["throughput"]["rows"]
    assert [(r["scheme"], r["variant"]) for r in rows] == [("alternating", "fp32"),
                                                           ("alternating", "bf16 NCHW")]
    assert all(r["images_per_s"] > 0 and r["of_peak"] > 0 for r in rows)
    assert "| alternating | bf16 NCHW |" in (tmp_path / "gpu.md").read_text()

    ctx = gpu.Context(torch.device("cpu"), gpu.CPU_SIZES, tmp_path, None, math.inf, [], [])
    assert gpu.rng_round_trip(ctx) == {"has_cuda_state": False, "equal": True}
    agreement = gpu.cpu_agreement(ctx)  # NCHW against NHWC weights: other kernels, not zero
    assert agreement["agree"] and 0 < agreement["moves_rel_diff"] < gpu.RTOL


def test_tiled_cifar_has_the_shared_subsets_sizes_and_real_images(tmp_path):
    """Where the real subset cannot travel to the device, sem_vs_sgd is timed on this."""
    from benchmark.data import DataConfig, load_dataset

    root = gpu.tiled_cifar(tmp_path)
    data = load_dataset(DataConfig(dataset="cifar10", data_root=str(root), image_size=32), 0)
    tiny = load_dataset(DataConfig(dataset="cifar10", data_root=str(TINY_DATA), image_size=32), 0)
    assert (len(data.train), len(data.test)) == (5 * 1017, 1017)
    assert torch.equal(data.test.x[:40], tiny.test.x) and torch.equal(data.test.x[40:80], tiny.test.x)


@pytest.mark.slow
def test_bench_gpu_runs_every_section_on_the_cpu_with_compile_and_the_grids(tmp_path):
    out = _bench(["--device", "cpu", "--out", str(tmp_path), "--cifar-from-tiny",
                  "--schemes", "simultaneous"], tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "gpu.json").read_text())
    c = report["sections"]["correctness"]
    assert "error" not in c, c
    assert c["same_seed_fp32"]["equal"] and c["same_seed_bf16"]["equal"] and c["resume"]["equal"]
    assert c["resume"]["stopped_at_step"] == gpu.CPU_SIZES.stop_at
    assert c["evaluation"]["equal"] and c["evaluation"]["finite"], c["evaluation"]
    assert {"fid_classifier", "recon_acc", "knn_acc", "probe_acc"} <= set(c["evaluation"]["metrics"])
    assert c["rng_round_trip"]["equal"] and c["cpu_agreement"]["agree"]
    rows = report["sections"]["throughput"]["rows"] + report["sections"]["compiled"]["rows"]
    assert [r["variant"] for r in rows] == list(gpu.VARIANTS)  # compiled last
    assert all("images_per_s" in r for r in rows), rows
    grids = report["sections"]["grids"]
    for name in ("sem_vs_sgd", "quickstart"):
        assert grids[name]["exit_code"] == 0 and grids[name]["finished"] == 2, grids[name]
    assert grids["sem_vs_sgd"]["data"].startswith("CIFAR-10 tiled")
    table = (tmp_path / "gpu.md").read_text()
    assert "| resume | equal |" in table and "| quickstart |" in table
