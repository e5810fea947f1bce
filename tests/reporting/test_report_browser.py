"""index.html renders in headless Chromium with every image loaded (offline, relative paths).

Chromium is part of the test set-up (`apt-get install chromium chromium-driver`); without it the
test skips with that line, or fails under ALIBENCH_REQUIRE_ALL=1 (.ci/run sets it).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from environment import browser

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Counts images that did not load once the page (and every image) finished loading. The page
# itself carries no script; only this probe copy does.
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  document.body.dataset.images = imgs.length;
  document.body.dataset.broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).length;
});
</script>"""
CONTROL = "<img id='control' src='no-such-image.png' alt='must be counted as broken'>"


def _chromium() -> str:
    return browser("chromium")[0]


def test_index_renders_without_broken_images(report: Path, tmp_path: Path) -> None:
    browser = _chromium()
    page = (report / "index.html").read_text(encoding="utf-8")
    expected = page.count("<img ")
    assert expected >= 7 + 8  # the figures and the panels
    # The copy lives outside the report; <base> resolves its relative paths into the report.
    probe = page.replace("<head>", f"<head><base href='{report.as_uri()}/'>", 1)
    probe = probe.replace("</body>", f"{CONTROL}{PROBE}</body>", 1)
    copy = tmp_path / "probe.html"
    copy.write_text(probe, encoding="utf-8")
    result = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", copy.as_uri()],
        capture_output=True, text=True, timeout=120)
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body is not None, f"no DOM from chromium (exit {result.returncode}): {result.stderr}"
    images = re.search(r'data-images="(\d+)"', body.group(0))
    broken = re.search(r'data-broken="(\d+)"', body.group(0))
    assert images and broken, f"the load handler did not run: {body.group(0)}"
    assert int(images.group(1)) == expected + 1
    assert int(broken.group(1)) == 1, "only the control image may be broken"
