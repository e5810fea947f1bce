"""The compute device of a run: which one, refused in one line when absent, and its settings.

A run asks for `device: auto | cpu | cuda`. `cuda` where torch finds none is a config mistake,
found by `check_devices` before a grid creates anything (executors that run here) and again by
`resolve_device` when a run starts (executors that run elsewhere: Ray, Slurm). `configure`
applies the determinism settings every run starts with (docs/gpu.md, "Determinism").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from benchmark.errors import ConfigError

if TYPE_CHECKING:
    from benchmark.run_config import RunConfig

DEVICES = ("auto", "cpu", "cuda")


def cuda_missing_reason() -> str | None:
    """Why this process cannot use CUDA, or None when it can."""
    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is built without CUDA"
    return (f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds no CUDA device "
            f"(torch.cuda.is_available() is False)")


def check_device(name: str) -> None:
    """One line when `name` asks for a device this process does not have."""
    if name == "cuda" and (reason := cuda_missing_reason()) is not None:
        raise ConfigError(f"device: 'cuda' is not available here: {reason}; "
                          f"choose from: auto, cpu")


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when present, else the CPU; `cuda` without a device is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check_device(name)
    return torch.device(name)


def check_devices(runs: Sequence[RunConfig], **_: object) -> None:
    """Every run's device exists on this machine: the check of executors that run here."""
    from benchmark.run_config import run_name

    for i, cfg in enumerate(runs, 1):
        try:
            check_device(cfg.device)
        except ConfigError as err:
            raise ConfigError(f"{err} (run {i} of {len(runs)}: {run_name(cfg)})") from None


def configure(device: torch.device, cudnn_benchmark: bool = False) -> None:
    """Deterministic kernels wherever torch has them (errors on the CPU, where all exist; a
    warning per operation on CUDA, where a few do not: docs/gpu.md lists them), and cuDNN's
    autotuner only when asked (it times candidate algorithms, so the choice, and with it the
    last bits of every convolution, can differ from process to process)."""
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
    torch.backends.cudnn.benchmark = cudnn_benchmark
