"""The fixture every reliability test that runs a CLI in-process uses."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    """A fresh current folder, so the CLIs' relative defaults (runs/, reports/) land in it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
