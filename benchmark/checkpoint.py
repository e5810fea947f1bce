"""Atomic checkpoints: the resume point of a run.

A checkpoint is written to a temporary file and renamed, so a kill never leaves half a file under
the real name. The two newest are kept; a corrupt or truncated newest one is reported with a
warning and the previous good one is used instead (or none: the run starts from scratch).
Loading uses `weights_only=True`: a checkpoint can hold tensors and plain containers only.
"""

from __future__ import annotations

import os
import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

KEEP = 2
_NAME = re.compile(r"^step_(\d{9})\.pt$")


def _path(folder: Path, step: int) -> Path:
    return folder / f"step_{step:09d}.pt"


def checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """Existing checkpoints, newest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found, reverse=True)


def save(folder: Path, step: int, payload: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    final = _path(folder, step)
    tmp = final.with_suffix(f".tmp{os.getpid()}")
    torch.save({"step": step, **payload}, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    for _, old in checkpoints(folder)[KEEP:]:
        old.unlink(missing_ok=True)
    return final


def load_latest(folder: Path) -> dict[str, Any] | None:
    """The newest checkpoint that loads, warning about each one that does not."""
    for step, path in checkpoints(folder):
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload.get("step") != step:
                raise ValueError(f"holds step {payload.get('step')}, its name says {step}")
            return payload
        except Exception as err:  # truncated zip, bad pickle, wrong content
            warnings.warn(f"checkpoint {path} is unreadable ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''}); trying an older one",
                          stacklevel=2)
    return None


def rng_state(device: torch.device | None = None) -> dict[str, Any]:
    """Every global random stream a run consumes (dropout, noise, numpy, random), with the CUDA
    generators' under `cuda` when the run's device (default: whether CUDA is present) is CUDA:
    on a GPU, dropout and the prior and encoder noise come from them, not from the CPU's."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "random": list(random.getstate()[1]),
        "random_gauss": random.getstate()[2],
    }
    if _uses_cuda(device):
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], device: torch.device | None = None) -> None:
    """Restore `rng_state`'s streams. A run on CUDA resumed from a checkpoint without CUDA
    generators (written on the CPU under `device: auto`) continues, warned: its CUDA draws
    then start from the seed's, not where they stopped, so it is no longer the same run."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    random.setstate((3, tuple(state["random"]), state["random_gauss"]))
    if not _uses_cuda(device):
        return
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])
    else:
        warnings.warn("the checkpoint holds no CUDA generator state (written by a run on the "
                      "CPU); resuming on CUDA, the random draws differ from an uninterrupted "
                      "run's", stacklevel=2)


def _uses_cuda(device: torch.device | None) -> bool:
    return torch.cuda.is_available() if device is None else device.type == "cuda"
