"""Content-keyed cache files: classifiers and baselines are computed once per data and settings.

Keys hash the data's bytes together with the settings, so a changed subset, image size or epoch
count can never pick up a stale file. Writes go to a temporary name and are renamed into place, so
runs in parallel processes never read half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch


def digest(obj: Any) -> str:
    """A 16-hex-digit hash of a JSON-serialisable object (settings, fingerprints)."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def fingerprint(*tensors: torch.Tensor) -> str:
    """A hash of the tensors' shapes, dtypes and bytes: which data a cache entry was built from."""
    h = hashlib.sha1()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The cached dict, or None when there is no entry yet."""
    if not path.exists():
        return None
    return json.loads(path.read_text())


def write_json(obj: dict[str, Any], path: Path) -> None:
    """Write `obj` as JSON atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, sort_keys=True, indent=1))
    os.replace(tmp, path)
