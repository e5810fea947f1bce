"""The CUDA path in one prepared command: is it correct, how fast is it, how long do grids take.

    PYTHONPATH=. timeout 480 python bench/gpu.py --data-root ../shared/data --out bench/gpu-results
    PYTHONPATH=. python bench/gpu.py --device cpu --out /tmp/gpu-cpu    # same code paths, tiny

Without CUDA (and without `--device cpu`) it prints one line and exits 0. With it, in under
8 minutes on one H100-class GPU, it runs its sections in this order and writes `gpu.json` and
`gpu.md` to `--out` after each (after `--budget-s`, 400 s by default, what is left is skipped
with one line each; a section that fails records its error and the next one runs):

1. correctness (independent checks): two runs with the same seed end bitwise equal (fp32, and
   bf16); a run stopped after a checkpoint and resumed ends bitwise equal to the uninterrupted
   one; every metric family evaluated on the device twice gives the same numbers; the CUDA
   generators round-trip through a checkpoint's RNG state; torch's nondeterminism warnings are
   listed; CPU and device agree on the first gradients and the first SGD update of the same
   networks from the same weights and draw (`first_update`: `LOSS_RTOL`, `RTOL`);
2. throughput of the 32x32 paper model (full width, z_dim 256) at batch 100 for the
   alternating, simultaneous and extragradient updates, per variant (fp32, fp32 with NCHW
   weights, tf32, bf16, bf16 with NCHW weights, bf16 with cuDNN autotuning): images per second
   (batch / seconds per update) and the share of the matmul peak measured here in the same
   precision (FLOPs of one update counted by `FlopCounterMode`);
3. grids: wall time of `grids/sem_vs_sgd.yaml` at its settings (needs CIFAR-10 under
   --data-root, skipped with one line without it) and of `grids/quickstart.yaml` (embedded
   digits), each through `python -m benchmark.run` in a fresh store, several runs sharing the
   device under the processes executor;
4. compiled: throughput's bf16 compiled variant, last because compiling takes minutes (each
   starts only with `COMPILE_RESERVE_S` of the budget left).

`--device cpu` runs every section's code at tiny sizes (tests/test_gpu.py runs it); its numbers
mean nothing. docs/gpu.md says what each setting does.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import pickle
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.common import bare_step
from benchmark import checkpoint
from benchmark.data import DataConfig, on_disk
from benchmark.device import configure
from benchmark.errors import first_line
from benchmark.grid import expand_grid
from benchmark.models import ModelConfig, build_ali
from benchmark.optimizers import build_optimizer
from benchmark.precision import PRECISIONS
from benchmark.run_config import flat_params, run_key, run_name
from benchmark.schemes import SCHEMES, Draw, Game, Players, both_gradients
from benchmark.tracking import TAG_RUN_KEY, MlflowStore
from benchmark.training import RunResult, train
from benchmark.validation import merge

ROOT = Path(__file__).resolve().parents[1]
# CPU vs device from the same weights and draw (`first_update`): both losses within
# LOSS_RTOL * max(1, |loss|) of the CPU's; each player's gradient, and the moves of one
# alternating SGD update, within RTOL of the CPU's in L2 norm. Two CPU kernel sets (NCHW and
# NHWC weights) differ by about 1e-7 in the losses and 2e-5 in the moves at DEVICE_SIZES.
LOSS_RTOL = 1e-4
RTOL = 1e-3
AGREE_LR = 0.01
SCHEMES_TIMED = (("alternating", "adam"), ("simultaneous", "adam"),
                 ("extragradient", "extra_adam"))


@dataclass(frozen=True)
class Variant:
    """One way to run the update: the run config's switches (`train.*`)."""

    precision: str = "fp32"
    contiguous: bool = False  # train.memory_format: contiguous (NCHW weights)
    cudnn_benchmark: bool = False
    compile: bool = False


VARIANTS = {
    "fp32": Variant(),
    "fp32 NCHW": Variant(contiguous=True),
    "tf32": Variant("tf32"),
    "bf16": Variant("bf16"),
    "bf16 NCHW": Variant("bf16", contiguous=True),
    "bf16 cudnn.benchmark": Variant("bf16", cudnn_benchmark=True),
    "bf16 compiled": Variant("bf16", compile=True),
}
PEAK_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Sizes:
    """How big each section's work is: the device's sizes, or tiny ones for `--device cpu`."""

    run: dict  # the correctness runs' config (a grid's base)
    stop_at: int  # the interrupted run stops after its checkpoint at this step
    evaluation: dict  # merged into `run` for the evaluation check: every metric family
    agree_model: ModelConfig
    agree_batch: int
    model: ModelConfig  # the throughput model (32x32 table)
    batch: int
    warmup: int
    steps: int
    matmul_n: int
    grid_sets: dict[str, list[str]]  # grid file -> its --set overrides
    grid_executor: dict[str, list[str]]  # grid file -> executor flags


DEVICE_SIZES = Sizes(
    run={"data": {"dataset": "digits", "batch_size": 100},
         "model": {"z_dim": 32, "width": 0.25},
         "stabilizers": [{"name": "instance_noise", "std": 0.1}],
         "train": {"steps": 60, "log_every": 10, "eval_every": 30, "checkpoint_every": 20},
         "eval": {"metrics": ["recon_mse", "knn", "probe"]}},
    stop_at=40,
    evaluation={"train": {"steps": 20, "eval_every": 20, "checkpoint_every": 20},
                "eval": {"metrics": ["recon_mse", "knn", "probe", "fid", "prdc", "recon_acc"],
                         "fid_gen_count": 500, "fid_real_count": 297}},
    agree_model=ModelConfig(z_dim=64, width=0.25, dropout=0.0), agree_batch=32,
    model=ModelConfig(z_dim=256, width=1.0), batch=100, warmup=5, steps=30, matmul_n=8192,
    grid_sets={"sem_vs_sgd": [], "quickstart": []},
    grid_executor={"sem_vs_sgd": ["--executor", "processes", "--workers", "3"],
                   "quickstart": ["--executor", "processes", "--workers", "4"]},
)
CPU_SIZES = Sizes(
    run={"data": {"dataset": "digits", "batch_size": 50},
         "model": {"z_dim": 8, "width": 0.125},
         "stabilizers": [{"name": "instance_noise", "std": 0.1}],
         "train": {"steps": 6, "log_every": 2, "eval_every": 6, "checkpoint_every": 3},
         "eval": {"metrics": ["recon_mse", "knn", "probe"], "recon_count": 60,
                  "probe_test_count": 60, "knn_train_count": 200, "probe_draws": 1,
                  "panel_count": 4, "interpolation_steps": 4}},
    stop_at=3,
    evaluation={"eval": {"metrics": ["recon_mse", "knn", "probe", "fid", "recon_acc"],
                         "fid_gen_count": 60, "fid_real_count": 60, "classifier_epochs": 1,
                         "classifier_min_updates": 10, "classifier_train_count": 200}},
    agree_model=ModelConfig(z_dim=16, width=0.0625, dropout=0.0), agree_batch=8,
    model=ModelConfig(z_dim=256, width=0.0625), batch=8, warmup=1, steps=2, matmul_n=256,
    grid_sets={"sem_vs_sgd": ["train.steps=2", "model.width=0.0625", "data.batch_size=20",
                              "train.eval_every=1", "seed=0"],
               "quickstart": ["train.steps=2", "model.width=0.125", "eval.metrics=[recon_mse]",
                              "seed=0"]},
    grid_executor={"sem_vs_sgd": ["--threads", "1"], "quickstart": ["--threads", "1"]},
)


@dataclass
class Context:
    device: torch.device
    sizes: Sizes
    work: Path
    data_root: str | None
    deadline: float
    variants: list[str]
    schemes: list[tuple[str, str]]
    cifar_from_tiny: bool = False  # sem_vs_sgd on `tiled_cifar` when --data-root lacks CIFAR-10
    flagged: set[str] = field(default_factory=set)  # torch's nondeterminism warnings seen
    store: MlflowStore | None = None  # the correctness runs' store and experiment
    experiment: str = ""
    peaks: dict[str, float] = field(default_factory=dict)  # precision -> matmul FLOP/s
    flops: dict[str, int] = field(default_factory=dict)  # scheme -> FLOPs of one update

    def left_s(self) -> float:
        return self.deadline - time.monotonic()


# --- timing on the device ------------------------------------------------------------------------

def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_call(fn: Callable[[], object], device: torch.device, warmup: int,
                     calls: int) -> tuple[float, float]:
    """(seconds of the first call, mean seconds of `calls` calls after `warmup` more)."""
    synchronize(device)
    started = time.perf_counter()
    fn()
    synchronize(device)
    first = time.perf_counter() - started
    for _ in range(max(0, warmup - 1)):
        fn()
    synchronize(device)
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    synchronize(device)
    return first, (time.perf_counter() - started) / calls


def matmul_peak(device: torch.device, n: int, precision: str) -> float:
    """Best rate (FLOP/s) of an n x n matmul in `precision`'s dtype and float32 math."""
    dtype = PEAK_DTYPES[precision]
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    with PRECISIONS.get(precision).update():  # fp32: IEEE; tf32: TF32 tensor cores
        best = min(seconds_per_call(lambda: a @ b, device, 2, 3)[1] for _ in range(3))
    return 2 * n ** 3 / best


@contextlib.contextmanager
def cudnn_benchmark(on: bool) -> Iterator[None]:
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = on
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


# --- comparing what two runs end with ------------------------------------------------------------

TIMES = {"cpu_time_s", "wall_time_s"}


def difference(a: Any, b: Any) -> float:
    """Largest absolute difference between two nested states (0.0: bitwise equal; inf: they
    differ in structure or in a non-tensor value). Times are left out: they always differ."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            return math.inf
        if torch.equal(a, b):
            return 0.0
        if not a.is_floating_point():
            return math.inf
        return float((a.double() - b.double()).abs().nan_to_num(math.inf).max())
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (set(a) | set(b)) - TIMES
        if set(a) - TIMES != set(b) - TIMES:
            return math.inf
        return max((difference(a[k], b[k]) for k in keys), default=0.0)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return math.inf
        return max((difference(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return 0.0
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b))
    return 0.0 if a == b else math.inf


def final_state(folder: Path) -> dict[str, Any]:
    saved = checkpoint.load_latest(folder)
    if saved is None:
        raise RuntimeError(f"no checkpoint in {folder}")
    return {k: saved[k] for k in ("ali", "opt_d", "opt_g", "rng", "sampler", "step")}


# --- 1. correctness ------------------------------------------------------------------------------

class Stopped(Exception):
    """Raised from the progress callback: the run stops as a killed one would, after a
    checkpoint, with nothing but the checkpoint carried over to its resume."""


def run_config(ctx: Context, extra: dict | None = None, **train: object):
    base = merge(ctx.sizes.run, extra or {})
    base["device"] = ctx.device.type
    base["train"] = {**base["train"], **train}
    base["eval"] = {**base["eval"], "cache_dir": str(ctx.work / "eval-cache")}
    (cfg,) = expand_grid({"name": "gpu-check", "base": base}, "bench/gpu.py").runs
    return cfg


def train_once(cfg, folder: Path, store: MlflowStore, experiment: str,
               stop_at: int | None = None, run_id: str | None = None
               ) -> tuple[RunResult | None, str, list[str]]:
    """Train `cfg` into `folder` (stopping after step `stop_at` if given); the result (None when
    stopped), the MLflow run id, and torch's nondeterminism warnings."""
    if run_id is None:
        run_id = store.start_run(experiment, run_name(cfg), flat_params(cfg),
                                 {TAG_RUN_KEY: run_key(cfg)}, None)

    def progress(step: int) -> None:
        if stop_at is not None and step == stop_at:
            raise Stopped

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = train(cfg, store.tracker(run_id), folder, progress)
        except Stopped:
            result = None
    nondeterministic = sorted({str(w.message).splitlines()[0][:200] for w in caught
                               if "deterministic" in str(w.message)})
    return result, run_id, nondeterministic


def same_seed(ctx: Context, name: str, cfg) -> tuple[dict[str, Any], dict, dict]:
    """Two runs of `cfg` in fresh folders: whether they end bitwise equal; the first's end."""
    ends, metrics = [], []
    for i in (1, 2):
        folder = ctx.work / f"{name}-{i}"
        result, _, flagged = train_once(cfg, folder, ctx.store, ctx.experiment)
        ctx.flagged.update(flagged)
        ends.append(final_state(folder))
        metrics.append(result.metrics)
    state_diff, metrics_diff = difference(*ends), difference(*metrics)
    return ({"state_max_abs_diff": state_diff, "metrics_max_abs_diff": metrics_diff,
             "equal": state_diff == 0.0 and metrics_diff == 0.0,
             "finite": all(math.isfinite(v) for v in metrics[0].values()),
             "metrics": metrics[0]}, ends[0], metrics[0])


def same_seed_fp32_and_resume(ctx: Context) -> dict[str, Any]:
    cfg = run_config(ctx)
    out, end, metrics = same_seed(ctx, "same-fp32", cfg)
    folder = ctx.work / "resumed"
    _, run_id, _ = train_once(cfg, folder, ctx.store, ctx.experiment, stop_at=ctx.sizes.stop_at)
    stopped_at = checkpoint.checkpoints(folder)[0][0]
    result, _, _ = train_once(cfg, folder, ctx.store, ctx.experiment, run_id=run_id)
    resumed = final_state(folder)
    state_diff, metrics_diff = difference(end, resumed), difference(metrics, result.metrics)
    return {"same_seed_fp32": out,
            "resume": {"stopped_at_step": stopped_at, "state_max_abs_diff": state_diff,
                       "metrics_max_abs_diff": metrics_diff,
                       "equal": state_diff == 0.0 and metrics_diff == 0.0}}


def same_seed_bf16(ctx: Context) -> dict[str, Any]:
    return {"same_seed_bf16": same_seed(ctx, "same-bf16", run_config(ctx, precision="bf16"))[0]}


def evaluation_on_device(ctx: Context) -> dict[str, Any]:
    """Every metric family evaluated on the device (torch-fidelity with cuda=True, PRDC, the
    probe's and 1-NN's encodings, the classifier), twice from the same seed."""
    cfg = run_config(ctx, ctx.sizes.evaluation)
    return {"evaluation": same_seed(ctx, "evaluation", cfg)[0]}


def rng_round_trip(ctx: Context) -> dict[str, Any]:
    """The checkpoint's RNG state holds the device's generators and gives back their draws."""
    device = ctx.device
    torch.manual_seed(1)
    torch.randn(7, device=device)  # move the streams off their seeded start
    state = checkpoint.rng_state(device)
    first = torch.randn(1000, device=device)
    torch.manual_seed(2)
    checkpoint.set_rng_state(state, device)
    again = torch.randn(1000, device=device)
    return {"has_cuda_state": "cuda" in state, "equal": bool(torch.equal(first, again))}


class FixedDrawGame(Game):
    """The game on draws given in advance (made on the CPU): the same inputs on every device."""

    def __init__(self, *args, draws: list[Draw], **kwargs):
        super().__init__(*args, **kwargs)
        self.draws, self.used = draws, 0

    def draw(self) -> Draw:
        d = self.draws[self.used % len(self.draws)]
        self.used += 1
        return Draw(d.x.to(self.device), d.z_prior.to(self.device), d.eps.to(self.device))


def first_update(ctx: Context, device: torch.device, memory_format: str
                 ) -> dict[str, Any]:
    """From seed 0's weights on one fixed draw (made on the CPU), dropout off, IEEE float32:
    both players' losses and gradients at the same point (`both_gradients`), then one
    alternating SGD update; the gradients and the parameters' moves come back on the CPU.

    One update, not a run: the game's trajectories part fast. On one CPU, NCHW against NHWC
    weights (DEVICE_SIZES' model, SGD at lr 0.01), the moves differ by 2e-5 of their norm after
    one alternating update, 7e-3 after two and 4e-2 after three, and an extragradient update
    (gradients taken after the extrapolation's move) by 8e-3; so only the first gradients and
    the first update measure the kernels. Moves, not parameters: a move is lr * gradient, and
    the parameters' own float32 rounding would swamp it."""
    sizes = ctx.sizes
    torch.manual_seed(0)
    ali = build_ali(sizes.agree_model, (3, 32, 32), memory_format).to(device)
    ali.train()
    g = torch.Generator().manual_seed(0)
    draws = [Draw(torch.rand(sizes.agree_batch, 3, 32, 32, generator=g),
                  torch.randn(sizes.agree_batch, sizes.agree_model.z_dim, generator=g),
                  torch.randn(sizes.agree_batch, sizes.agree_model.z_dim, generator=g))]
    game = FixedDrawGame(ali, [], lambda: None, device, draws=draws)
    players = Players(game, build_optimizer("sgd", ali.discriminator_parameters(), AGREE_LR),
                      build_optimizer("sgd", ali.generator_parameters(), AGREE_LR))

    def flat(params: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([p.detach().flatten().cpu() for p in params])

    with PRECISIONS.get("fp32").update():
        losses = both_gradients(game, game.draw())
        out = {"losses": [losses.loss_d.item(), losses.loss_g.item()],
               "grad_d": flat([p.grad for p in ali.discriminator_parameters()]),
               "grad_g": flat([p.grad for p in ali.generator_parameters()])}
        start = flat(list(ali.parameters()))
        SCHEMES["alternating"]().step(players)  # its defaults: one D step
        out["moves"] = flat(list(ali.parameters())) - start
    return out


def cpu_agreement(ctx: Context) -> dict[str, Any]:
    """The device's first gradients and update against the CPU's. With `--device cpu` the pair
    is the CPU with NCHW weights against NHWC ones: other kernels, so the tolerances are
    exercised, not met by zero differences."""
    if ctx.device.type == "cpu":
        reference, other = ("cpu", "contiguous"), ("cpu", "channels_last")
    else:
        reference, other = ("cpu", "channels_last"), (ctx.device.type, "channels_last")
    ref = first_update(ctx, torch.device(reference[0]), reference[1])
    dev = first_update(ctx, ctx.device, other[1])
    loss = max(abs(a - b) / max(1.0, abs(a))
               for a, b in zip(ref["losses"], dev["losses"], strict=True))
    rel = {k: float((ref[k] - dev[k]).norm() / ref[k].norm()) for k in ("grad_d", "grad_g", "moves")}
    return {"pair": [" ".join(reference), " ".join(other)], "loss_rel_diff": loss,
            "loss_rtol": LOSS_RTOL, **{f"{k}_rel_diff": v for k, v in rel.items()},
            "rtol": RTOL, "agree": loss <= LOSS_RTOL and max(rel.values()) <= RTOL,
            "reference_losses": ref["losses"], "device_losses": dev["losses"]}


CHECKS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "rng_round_trip": lambda ctx: {"rng_round_trip": rng_round_trip(ctx)},
    "cpu_agreement": lambda ctx: {"cpu_agreement": cpu_agreement(ctx)},
    "same_seed_fp32_and_resume": same_seed_fp32_and_resume,
    "same_seed_bf16": same_seed_bf16,
    "evaluation": evaluation_on_device,
}


def correctness(ctx: Context) -> dict[str, Any]:
    """Each check on its own: one that fails records its error, the others still run."""
    ctx.store = MlflowStore(f"sqlite:///{ctx.work}/correctness.db")
    ctx.experiment = ctx.store.experiment_id("gpu-correctness")
    out: dict[str, Any] = {}
    for name, check in CHECKS.items():
        if ctx.left_s() < 30:
            out[name] = {"skipped": "time budget"}
            continue
        try:
            out.update(check(ctx))
        except Exception as err:
            traceback.print_exc()
            out[name] = {"error": f"{type(err).__name__}: {first_line(err)}"[:400]}
    out["nondeterministic_ops"] = sorted(ctx.flagged)
    return out


# --- 2. throughput -------------------------------------------------------------------------------

COMPILE_RESERVE_S = 150.0  # a compiled variant starts only with this much of the budget left


def update_flops(ctx: Context, batch: torch.Tensor, scheme: str, optimizer: str) -> int:
    """FLOPs of one eager fp32 update (FlopCounterMode), counted once per scheme."""
    if scheme not in ctx.flops:
        step = bare_step(ctx.sizes.model, (3, 32, 32), batch, scheme, optimizer,
                         device=ctx.device)
        step.run()  # the first call allocates; count the second
        with FlopCounterMode(display=False) as counter:
            step.run()
        ctx.flops[scheme] = counter.get_total_flops()
    return ctx.flops[scheme]


def time_variants(ctx: Context, compiled: bool) -> list[dict[str, Any]]:
    """One row per scheme and variant (the compiled variants, or the others)."""
    sizes, device = ctx.sizes, ctx.device
    if not ctx.peaks:
        ctx.peaks = {p: matmul_peak(device, sizes.matmul_n, p) for p in PEAK_DTYPES}
    batch = torch.rand(sizes.batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    names = [n for n in ctx.variants if VARIANTS[n].compile == compiled]
    rows = []
    for name in names:  # variant by variant: a budget cut loses whole variants, not schemes
        v = VARIANTS[name]
        for scheme, optimizer in ctx.schemes:
            reserve = COMPILE_RESERVE_S if v.compile else 30.0
            if ctx.left_s() < reserve:
                rows.append({"scheme": scheme, "variant": name, "skipped": "time budget"})
                continue
            try:
                flops = update_flops(ctx, batch, scheme, optimizer)
                with cudnn_benchmark(v.cudnn_benchmark):
                    configure(device, v.cudnn_benchmark)  # deterministic kernels, as a run
                    step = bare_step(sizes.model, (3, 32, 32), batch, scheme, optimizer,
                                     memory_format=torch.contiguous_format if v.contiguous else None,
                                     device=device, precision=v.precision, compile=v.compile)
                    first, seconds = seconds_per_call(step.run, device, sizes.warmup, sizes.steps)
                del step
            except Exception as err:  # one variant failing must not lose the others
                traceback.print_exc()
                rows.append({"scheme": scheme, "variant": name,
                             "error": f"{type(err).__name__}: {first_line(err)}"[:400]})
                continue
            finally:
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            rows.append({"scheme": scheme, "optimizer": optimizer, "variant": name,
                         "seconds_per_update": seconds, "first_call_s": first,
                         "images_per_s": sizes.batch / seconds, "gflop_per_update": flops / 1e9,
                         "tflop_per_s": flops / seconds / 1e12,
                         "of_peak": flops / seconds / ctx.peaks[v.precision],
                         "peak_precision": v.precision})
    return rows


def throughput(ctx: Context) -> dict[str, Any]:
    """The eager variants (the compiled ones run last, in `compiled`: compiling takes long)."""
    rows = time_variants(ctx, compiled=False)
    return {"model": dataclasses.asdict(ctx.sizes.model), "batch": ctx.sizes.batch,
            "peak_tflop_per_s": {k: v / 1e12 for k, v in ctx.peaks.items()},
            "matmul_n": ctx.sizes.matmul_n, "rows": rows}


def compiled(ctx: Context) -> dict[str, Any]:
    return {"rows": time_variants(ctx, compiled=True)}


# --- 3. wall time of grids -----------------------------------------------------------------------

SUBSET = {"data_batch": (5, 1017), "test_batch": (1, 1017)}  # the shared CIFAR-10 subset's files


def tiled_cifar(root: Path) -> Path:
    """A CIFAR-10 folder the size of the shared subset (5 x 1,017 training, 1,017 test images),
    tiled from the real images committed in tests/tiny_data/cifar10: what `grids/sem_vs_sgd.yaml`
    computes does not depend on the pixels, so its wall time can be taken where the real subset
    (18 MB) cannot travel; its metrics mean nothing. Returns the data root."""
    source = ROOT / "tests" / "tiny_data" / "cifar10"
    target = root / "cifar10"
    target.mkdir(parents=True, exist_ok=True)
    for prefix, (files, size) in SUBSET.items():
        entries = []
        for path in sorted(source.glob(f"{prefix}*")):
            with open(path, "rb") as f:
                entries.append(pickle.load(f, encoding="bytes"))
        data = np.concatenate([np.asarray(e[b"data"], dtype=np.uint8) for e in entries])
        labels = np.concatenate([np.asarray(e[b"labels"], dtype=np.int64) for e in entries])
        reps = -(-files * size // len(data))
        data, labels = np.tile(data, (reps, 1)), np.tile(labels, reps)
        for i in range(files):
            cut = slice(i * size, (i + 1) * size)
            name = f"{prefix}_{i + 1}" if prefix == "data_batch" else prefix
            with open(target / name, "wb") as f:
                pickle.dump({b"data": data[cut], b"labels": labels[cut].tolist()}, f, protocol=4)
    return root


def grid_wall_times(ctx: Context) -> dict[str, Any]:
    out = {}
    for name in ("sem_vs_sgd", "quickstart"):
        grid = ROOT / "grids" / f"{name}.yaml"
        data_root, data = ctx.data_root, "real"
        if name == "sem_vs_sgd":
            cifar = DataConfig(dataset="cifar10", data_root=ctx.data_root or "")
            if (ctx.data_root is None or not on_disk(cifar)) and ctx.cifar_from_tiny:
                data_root = str(tiled_cifar(ctx.work / "tiled"))
                data = "CIFAR-10 tiled from tests/tiny_data (timing only)"
            elif ctx.data_root is None or not on_disk(cifar):
                out[name] = {"skipped": f"no CIFAR-10 under --data-root {ctx.data_root!r}"}
                print(f"gpu.py: {name}: skipped, no CIFAR-10 under --data-root "
                      f"{ctx.data_root!r}", flush=True)
                continue
        if ctx.left_s() < 60:
            out[name] = {"skipped": "time budget"}
            continue
        folder = ctx.work / f"grid-{name}"
        folder.mkdir()
        sets = [x for s in ctx.sizes.grid_sets[name] for x in ("--set", s)]
        sets += ["--set", f"device={ctx.device.type}"]
        args = [sys.executable, "-m", "benchmark.run", "--grid", str(grid), *sets,
                "--tracking-uri", f"sqlite:///{folder}/mlflow.db",
                "--checkpoint-dir", str(folder / "ckpt"), *ctx.sizes.grid_executor[name]]
        if data_root is not None:
            args += ["--data-root", data_root]
        paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}  # carried wheels stay found
        started = time.perf_counter()
        try:
            proc = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True,
                                  timeout=max(60.0, ctx.left_s()))
        except subprocess.TimeoutExpired:
            out[name] = {"error": f"did not finish within the time budget "
                                  f"({time.perf_counter() - started:.0f} s)"}
            continue
        wall = time.perf_counter() - started
        lines = [x for x in proc.stderr.splitlines() + proc.stdout.splitlines()
                 if SUMMARY.match(x)]
        finished = sum(SUMMARY.match(x).group(1) == "finished" for x in lines)
        out[name] = {"wall_s": wall, "exit_code": proc.returncode, "runs": len(lines), "data": data,
                     "finished": finished,
                     "executor": " ".join(ctx.sizes.grid_executor[name]),
                     "overrides": ctx.sizes.grid_sets[name], "summaries": lines}
        if proc.returncode != 0:
            out[name]["stderr_tail"] = proc.stderr[-2000:]
    return out


# The grid's line per run: `[i/n] benchmark.run: NAME [KEY] OUTCOME ...` (RunSummary.line)
SUMMARY = re.compile(r"^\[\d+/\d+\] benchmark\.run: .*? \[[0-9a-f]{12}\] (\S+)")


# --- report --------------------------------------------------------------------------------------

SECTIONS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "correctness": correctness,
    "throughput": throughput,
    "grids": grid_wall_times,
    "compiled": compiled,  # throughput's compiled variants, last: compiling takes minutes
}


def describe_device(device: torch.device) -> dict[str, Any]:
    info = {"device": device.type, "torch": torch.__version__, "cuda": torch.version.cuda,
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M"),
            "CUBLAS_WORKSPACE_CONFIG": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(name=props.name, capability=f"{props.major}.{props.minor}",
                    memory_gib=round(props.total_memory / 2**30, 1),
                    cudnn=torch.backends.cudnn.version())
    else:
        info["name"] = platform.processor() or platform.machine()
    return info


def markdown(report: dict[str, Any]) -> str:
    d = report["device"]
    lines = [f"# bench/gpu.py on {d['name']} ({d['device']})", "",
             f"{d['date']}, torch {d['torch']}, CUDA {d['cuda']}, "
             f"{report['elapsed_s']:.0f} s in all", ""]
    c = report["sections"].get("correctness", {})
    if "error" in c or "skipped" in c:
        lines += [f"correctness: {c.get('error') or c.get('skipped')}", ""]
    elif c:
        lines += ["| correctness check | result | detail |", "|---|---|---|"]
        for key in ("same_seed_fp32", "resume", "same_seed_bf16", "evaluation"):
            r = c.get(key)
            if r is not None and "equal" in r:
                lines.append(f"| {key.replace('_', ' ')} | "
                             f"{'equal' if r['equal'] else 'DIFFERENT'} | max abs diff: state "
                             f"{r['state_max_abs_diff']:.3g}, metrics "
                             f"{r['metrics_max_abs_diff']:.3g} |")
        a = c.get("cpu_agreement")
        if a is not None and "agree" in a:
            lines.append(f"| {a['pair'][0]} vs {a['pair'][1]}: first gradients and SGD update "
                         f"| {'agree' if a['agree'] else 'DISAGREE'} | losses "
                         f"{a['loss_rel_diff']:.1e} (tol {a['loss_rtol']:g}); gradients D "
                         f"{a['grad_d_rel_diff']:.1e}, G {a['grad_g_rel_diff']:.1e}, update "
                         f"{a['moves_rel_diff']:.1e} (tol {a['rtol']:g}) |")
        r = c.get("rng_round_trip")
        if r is not None and "equal" in r:
            lines.append(f"| RNG state round trip | {'equal' if r['equal'] else 'DIFFERENT'} "
                         f"| CUDA generators saved: {r['has_cuda_state']} |")
        for name in CHECKS:
            failed = c.get(name)
            if isinstance(failed, dict) and ("error" in failed or "skipped" in failed):
                lines.append(f"| {name.replace('_', ' ')} | FAILED TO RUN | "
                             f"{failed.get('error') or failed.get('skipped')} |")
        ops = c.get("nondeterministic_ops", [])
        lines += ["", "torch's nondeterminism warnings: " + ("none" if not ops else "; ".join(ops)),
                  ""]
    t = report["sections"].get("throughput", {})
    extra = report["sections"].get("compiled", {})
    if "rows" in t:
        t = {**t, "rows": t["rows"] + extra.get("rows", [])}
        peaks = ", ".join(f"{k} {v:.1f}" for k, v in t["peak_tflop_per_s"].items())
        lines += [f"Throughput, 32x32 model (z_dim {t['model']['z_dim']}, width "
                  f"{t['model']['width']:g}), batch {t['batch']}; matmul peak "
                  f"({t['matmul_n']}^2) in TFLOP/s: {peaks}", "",
                  "| update | variant | img/s | ms/update | TFLOP/s | of peak | first call s |",
                  "|---|---|---|---|---|---|---|"]
        for r in t["rows"]:
            if "images_per_s" not in r:
                lines.append(f"| {r['scheme']} | {r['variant']} | "
                             f"{r.get('error') or r.get('skipped')} | | | | |")
                continue
            lines.append(f"| {r['scheme']} | {r['variant']} | {r['images_per_s']:,.0f} | "
                         f"{1e3 * r['seconds_per_update']:.2f} | {r['tflop_per_s']:.2f} | "
                         f"{r['of_peak']:.1%} ({r['peak_precision']}) | {r['first_call_s']:.2f} |")
        lines.append("")
    elif t:
        lines += [f"throughput: {t.get('error') or t.get('skipped')}", ""]
    grids = report["sections"].get("grids", {})
    if grids and "error" not in grids and "skipped" not in grids:
        lines += ["| grid | wall time | runs (finished) | executor | data | exit |",
                  "|---|---|---|---|---|---|"]
        for name, g in grids.items():
            if not isinstance(g, dict):
                continue
            if "wall_s" in g:
                lines.append(f"| {name} | {g['wall_s']:.0f} s | {g['runs']} ({g['finished']}) | "
                             f"{g['executor']} | {g['data']} | {g['exit_code']} |")
            else:
                lines.append(f"| {name} | {g.get('skipped') or g.get('error')} | | | | |")
    elif grids:
        lines.append(f"grids: {grids.get('error') or grids.get('skipped')}")
    if "error" in extra or "skipped" in extra:
        lines += ["", f"compiled: {extra.get('error') or extra.get('skipped')}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                   help="cuda (default; one line and exit 0 without it) or cpu: the same code "
                        "paths at tiny sizes")
    p.add_argument("--data-root", help="folder holding cifar10/ for grids/sem_vs_sgd.yaml")
    p.add_argument("--cifar-from-tiny", action="store_true",
                   help="without CIFAR-10 under --data-root, time sem_vs_sgd on the shared "
                        "subset's sizes tiled from tests/tiny_data (its metrics mean nothing)")
    p.add_argument("--out", default="bench/gpu-results", help="where gpu.json and gpu.md go")
    p.add_argument("--budget-s", type=float, default=400.0,
                   help="seconds after which the sections left are skipped (default: 400)")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"comma-separated, from {', '.join(SECTIONS)}")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help=f"throughput variants, comma-separated, from {', '.join(VARIANTS)}")
    p.add_argument("--schemes", default=",".join(s for s, _ in SCHEMES_TIMED),
                   help="throughput updates, comma-separated")
    args = p.parse_args(argv)
    sections = args.sections.split(",")
    variants = args.variants.split(",")
    schemes = [pair for pair in SCHEMES_TIMED if pair[0] in args.schemes.split(",")]
    for given, valid, flag in ((sections, SECTIONS, "--sections"), (variants, VARIANTS, "--variants")):
        unknown = [x for x in given if x not in valid]
        if unknown:
            p.error(f"{flag}: unknown value {unknown[0]!r}; choose from: {', '.join(valid)}")
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"bench/gpu.py: no CUDA device here (torch {torch.__version__}, "
              f"torch.cuda.is_available() is False); nothing to check (--device cpu runs the "
              f"code paths at tiny sizes)")
        return 0
    device = torch.device(args.device)
    data_root = None if args.data_root is None else str(Path(args.data_root).resolve())
    started = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"device": describe_device(device), "sections": {}}
    with tempfile.TemporaryDirectory(prefix="alibench-gpu-") as tmp:
        ctx = Context(device, DEVICE_SIZES if device.type == "cuda" else CPU_SIZES, Path(tmp),
                      data_root, started + args.budget_s, variants, schemes,
                      args.cifar_from_tiny)
        for name in sections:
            if ctx.left_s() <= 0:
                report["sections"][name] = {"skipped": "time budget"}
                print(f"gpu.py: {name}: skipped, time budget spent", flush=True)
                continue
            section_started = time.monotonic()
            print(f"gpu.py: {name} ...", flush=True)
            try:
                report["sections"][name] = SECTIONS[name](ctx)
            except Exception as err:  # a section that fails must not lose the others' numbers
                traceback.print_exc()
                report["sections"][name] = {
                    "error": f"{type(err).__name__}: {first_line(err)}"[:400]}
            report["sections"][name]["seconds"] = time.monotonic() - section_started
            write(report, out, started)  # after each section: a killed run keeps what it had
    write(report, out, started)
    print(markdown(report))
    return 0


def write(report: dict[str, Any], out: Path, started: float) -> None:
    report["elapsed_s"] = time.monotonic() - started
    (out / "gpu.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "gpu.md").write_text(markdown(report))


if __name__ == "__main__":
    sys.exit(main())
