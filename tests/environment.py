"""What the tests need from the machine, and what happens when it is not there.

Real datasets come from `ALIBENCH_TEST_DATA` (a folder holding mnist/, cifar10/, celeba/; see
.ci/run). Without it, the tests that need the full sets skip with one line saying how to enable them; the
loaders are still tested on the tiny real samples committed in tests/tiny_data/. Browser tests
skip without Chromium and chromedriver likewise. `ALIBENCH_REQUIRE_ALL=1` (set by .ci/run)
turns every such skip into a failure, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY_DATA = Path(__file__).resolve().parent / "tiny_data"  # first images of real MNIST, CIFAR-10
REQUIRE_ALL = "ALIBENCH_REQUIRE_ALL"
DATA_HINT = "set ALIBENCH_TEST_DATA to a folder holding mnist/, cifar10/ and celeba/"
BROWSER_HINT = "apt-get install chromium chromium-driver"


# Unset, it names a folder that is not there: the tests that need it skip.
SHARED = Path(os.environ.get("ALIBENCH_TEST_DATA") or ROOT / "ALIBENCH_TEST_DATA-is-not-set")


def required() -> bool:
    """Whether a missing prerequisite fails the test instead of skipping it."""
    return os.environ.get(REQUIRE_ALL) == "1"


def unavailable(reason: str) -> None:
    """Skip (or, under ALIBENCH_REQUIRE_ALL=1, fail) with one line naming the fix."""
    if required():
        pytest.fail(f"{reason} ({REQUIRE_ALL}=1 requires it)", pytrace=False)
    pytest.skip(reason)


def shared_data(dataset: str = "mnist") -> Path:
    """The real-data folder, when it holds `dataset`; else skip (or fail) saying how to get it."""
    if not os.environ.get("ALIBENCH_TEST_DATA"):
        unavailable(f"needs real {dataset}, and ALIBENCH_TEST_DATA is not set: {DATA_HINT}")
    if not (SHARED / dataset).is_dir():
        unavailable(f"needs real {dataset}, not found under {SHARED}: {DATA_HINT}")
    return SHARED


def browser(*programs: str) -> list[str]:
    """Paths of the browser programs (`chromium`, `chromedriver`) on the PATH; skip (or fail)
    without them."""
    found = [shutil.which(p) for p in programs]
    if not all(found):
        missing = [p for p, f in zip(programs, found, strict=True) if not f]
        unavailable(f"{' and '.join(missing)} not found: {BROWSER_HINT}")
    return [str(f) for f in found]


def header() -> str:
    """pytest's header line: where real data comes from, and how to enable what skips."""
    data = f"real data: {SHARED}" if SHARED.is_dir() else f"real data: none ({DATA_HINT})"
    return f"{data}; {REQUIRE_ALL}={os.environ.get(REQUIRE_ALL, '0')}"
