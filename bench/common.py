"""Helpers the performance benches share: the paper models, a bare update, the machine, quiet.

Timings on a shared 2-core machine collapse when other jobs oversubscribe the cores, so every
bench can wait for a quiet machine (`wait_for_quiet`) and prints the load beside its figures
(`machine_line`); ratios are measured within one run, absolute numbers are context.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from benchmark.data import DataConfig
from benchmark.models import ALI, ModelConfig, build_ali
from benchmark.optimizers import build_optimizer
from benchmark.precision import PRECISIONS
from benchmark.schemes import SCHEMES, Game, Players
from benchmark.stabilizers import Stabilizer
from benchmark.training import compile_networks

BATCH = 100  # the paper's minibatch


@dataclass(frozen=True)
class PaperModel:
    """One of the seed report's models at width 1 and the real dataset it trains on."""

    label: str
    dataset: str
    image_size: int
    channels: int
    z_dim: int

    def data(self, data_root: str, batch_size: int = BATCH, **extra) -> DataConfig:
        return DataConfig(dataset=self.dataset, image_size=self.image_size,
                          channels=self.channels, data_root=data_root, batch_size=batch_size,
                          **extra)

    def model(self) -> ModelConfig:
        return ModelConfig(z_dim=self.z_dim, width=1.0)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)


PAPER_MODELS = {
    "32x32": PaperModel("32x32", "cifar10", 32, 3, 256),  # the ALI paper's CIFAR-10/SVHN table
    "28x28": PaperModel("28x28", "mnist", 28, 1, 128),  # the seed report's MNIST setting
}


@dataclass
class BareStep:
    """One update of a scheme on a fixed batch: the networks' own work, nothing around it."""

    ali: ALI
    players: Players
    run: Callable[[], object]


MakeOptimizer = Callable[[list[torch.nn.Parameter], float], torch.optim.Optimizer]


def bare_step(model: ModelConfig, shape: tuple[int, ...], batch: torch.Tensor,
              scheme: str = "alternating", optimizer: str = "adam",
              stabilizers: list[Stabilizer] | None = None, seed: int = 0,
              lr_g: float = 2e-4, lr_d: float = 1e-4,
              make_optimizer: MakeOptimizer | None = None,
              memory_format: torch.memory_format | None = None,
              device: torch.device | None = None, precision: str = "fp32",
              compile: bool = False) -> BareStep:
    """Build the networks, both optimizers and the scheme around one fixed `batch`.

    `make_optimizer(params, lr)` replaces the registry's `optimizer` (to compare
    implementations); `memory_format`, if given, lays out the networks' weights and the batch
    in place of the suite's choice (`benchmark.models.CONV_MEMORY_FORMAT` for the weights).
    `device`, `precision` (`train.precision`) and `compile` (`train.compile`) are the run's
    settings of the same names, applied as `benchmark.training.train` applies them.
    """
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    ali = build_ali(model, shape)
    if memory_format is not None:
        ali = ali.to(memory_format=memory_format)
        batch = batch.contiguous(memory_format=memory_format)
    ali = ali.to(device)
    batch = batch.to(device)
    if compile:
        compile_networks(ali)
    ali.train()
    chosen = PRECISIONS.get(precision)
    game = Game(ali, stabilizers or [], lambda: batch, device, precision=chosen)
    make = make_optimizer or (lambda params, lr: build_optimizer(optimizer, params, lr))
    players = Players(game, make(ali.discriminator_parameters(), lr_d),
                      make(ali.generator_parameters(), lr_g))
    update = SCHEMES[scheme]()  # its default options (alternating: 1 D step)

    def run() -> object:
        with chosen.update():
            return update.step(players)

    return BareStep(ali, players, run)


def step_times(step: Callable[[], object], steps: int, warmup: int = 2) -> list[float]:
    """Wall seconds of each of `steps` calls of `step` after `warmup` calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return times


def time_steps(step: Callable[[], object], steps: int, warmup: int = 2) -> float:
    """Mean wall seconds of one call of `step` over `steps` calls after `warmup` calls."""
    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def load() -> float:
    return os.getloadavg()[0]


def machine_line() -> str:
    """What the figures were measured on, for the printed header and bench/README.md."""
    return (f"{time.strftime('%Y-%m-%d %H:%M')}, {cpu_model()}, {cores()} cores, "
            f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
            f"1-min load {load():.2f}")


def wait_for_quiet(max_load: float, timeout_s: float, poll_s: float = 60.0) -> float:
    """Sleep until the 1-minute load is below `max_load` or `timeout_s` passed; the load."""
    deadline = time.monotonic() + timeout_s
    while load() >= max_load and time.monotonic() < deadline:
        print(f"  waiting for a quiet machine: load {load():.2f} >= {max_load}",
              file=sys.stderr, flush=True)
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
    return load()
