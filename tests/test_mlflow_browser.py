"""What a user sees of a finished grid in the real `mlflow ui`, opened in real headless Chromium
(Debian's chromium and chromium-driver, driven by selenium): the training runs listed with their
metric values, a recon_mse chart with one line per run, and the runs grouped by config.

With ALIBENCH_SCREENSHOT=path/to.png the test also saves the grouped comparison view there (the
README's picture: docs/mlflow-comparison.png, made from the quickstart grid, see the README).
With ALIBENCH_UI_GRID=path/to/grid.yaml (and optional ALIBENCH_UI_SET=key=value,...) it runs
that grid instead of its tiny one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from environment import browser
from runner_helpers import (
    history,
    mlflow_ui,
    run_cli,
    store_args,
    training_runs,
    write_grid,
)

from benchmark.grid import load_grid

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1600,1000")
CARD = "[data-testid='experiment-view-compare-runs-card']"


@contextlib.contextmanager
def chromium():
    """Headless Chromium with a fresh profile (no remembered UI state), quit at the end."""
    chromium_path, chromedriver_path = browser("chromium", "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="alibench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def page_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def wait_for(driver, check, what: str, timeout: float = 60):
    """Poll the page until `check(driver)` is truthy; fail with what the page shows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the page re-renders under us
            found = check(driver)
            if found:
                return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not on the page within {timeout:.0f} s; it shows:\n"
                         f"{page_text(driver)[:3000]}")


def close_assistant(driver) -> None:
    """MLflow 3's assistant panel takes a third of the window; a user closes it."""
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.XPATH, "//button[@aria-label='Close']"):
        with contextlib.suppress(Exception):
            button.click()


def chart_traces(driver, title: str) -> list[int]:
    """The points of each plotted trace (empty ones left out) of the chart card titled `title`;
    [] while it renders."""
    from selenium.webdriver.common.by import By

    for card in driver.find_elements(By.CSS_SELECTOR, CARD):
        if card.text.splitlines()[:1] == [title]:
            traces = card.find_elements(By.CSS_SELECTOR, ".scatterlayer .trace")
            return sorted(n for t in traces if (n := len(t.find_elements(By.CSS_SELECTOR,
                                                                          ".point"))))
    return []


def search_charts(driver, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.XPATH, "//input[@placeholder='Search metric charts']")
    box.clear()
    box.send_keys(text)


def shows_number(text: str, value: float) -> bool:
    """Whether `text` shows `value` to the precision of some number in it (two decimals at
    least), rounded or cut off: MLflow 3.17 shows every digit, other releases round."""
    return any(abs(float(number) - value) < 10.0 ** -len(decimals)
               for number, decimals in re.findall(r"(-?\d+\.(\d{2,}))", text))


def the_grid(tmp_path: Path) -> tuple[Path, list[str]]:
    """The grid to show and its extra CLI args: two configs x two seeds of the tiny run, or the
    one ALIBENCH_UI_GRID names."""
    if os.environ.get("ALIBENCH_UI_GRID"):
        sets = [s for s in os.environ.get("ALIBENCH_UI_SET", "").split(",") if s]
        return Path(os.environ["ALIBENCH_UI_GRID"]).resolve(), [
            arg for s in sets for arg in ("--set", s)]
    return write_grid(tmp_path / "g.yaml", "ui", axes={
        "stabilizers": [[], [{"name": "instance_noise", "std": 0.1}]], "seed": [0, 1]}), []


@pytest.mark.slow
def test_a_user_sees_the_training_runs_their_curves_and_the_seed_groups(tmp_path):
    grid, extra = the_grid(tmp_path)
    out = run_cli(["--grid", str(grid), *store_args(tmp_path), *extra], tmp_path, timeout=1800)
    assert out.returncode == 0, out.stdout + out.stderr
    links = [line.rsplit(" ", 1)[1] for line in out.stderr.splitlines()
             if "compare the runs in the MLflow UI: " in line]
    assert len(links) == 1, out.stderr
    runs = training_runs(tmp_path, load_grid(grid).name)
    names = sorted(r.info.run_name for r in runs)
    configs = sorted({r.data.tags["alibench.config"] for r in runs})
    assert len(configs) * 2 == len(names), "two seeds per config"

    with mlflow_ui(tmp_path) as base, chromium() as driver:
        link = links[0].replace("http://127.0.0.1:5000", base)
        runs_page = link.split("&compareRunsMode=")[0].split("?")[0]

        # Screen 1: the experiment's runs, as the printed link opens them without the saved
        # view: every training run is a row of its own, no parent row to expand.
        driver.get(f"{runs_page}?workflowType=machine_learning")
        wait_for(driver, lambda d: all(n in page_text(d) for n in names), "the training runs")
        text = page_text(driver)
        assert "Token Usage" not in text, "the GenAI overview opened instead of the runs"
        assert "Group:" not in text and "Additional runs" not in text

        # Screen 2: the same runs as charts, one line per run on recon_mse.
        driver.get(f"{runs_page}?workflowType=machine_learning&compareRunsMode=CHART")
        wait_for(driver, lambda d: d.find_elements("css selector", CARD), "the chart cards")
        close_assistant(driver)
        search_charts(driver, "recon_mse")
        evals = len(history(tmp_path, runs[0].info.run_id, "recon_mse"))
        wait_for(driver, lambda d: chart_traces(d, "recon_mse") == [evals] * len(names),
                 f"a recon_mse chart with {len(names)} lines of {evals} points")

        # Screen 3: the printed link, the saved view: grouped by config, each config's curves a
        # mean line with a min-max band, and the metric values in the table.
        driver.get(link)
        wait_for(driver, lambda d: "Group by: alibench.config" in page_text(d), "the grouping")
        text = page_text(driver)
        for config in configs:
            assert f"Group: {config}" in text, config
        close_assistant(driver)
        search_charts(driver, "recon_mse")
        # Per config: the mean line, and the min-max band (its lower and upper edges).
        grouped = [evals] * len(configs) + [2 * evals] * len(configs)
        wait_for(driver, lambda d: chart_traces(d, "recon_mse") == grouped,
                 "a recon_mse chart with a mean line and a band per config")
        if os.environ.get("ALIBENCH_SCREENSHOT"):
            time.sleep(2)  # the charts' enter animation
            driver.save_screenshot(os.environ["ALIBENCH_SCREENSHOT"])

        driver.get(link.replace("compareRunsMode=CHART", "compareRunsMode=TABLE"))
        wait_for(driver, lambda d: all(n in page_text(d) for n in names), "the table")
        text = page_text(driver)
        assert "recon_mse" in text
        for run in runs:  # the last recon_mse of each run, as the table shows it
            value = run.data.metrics["recon_mse"]
            assert shows_number(text, value), (run.info.run_name, value, text[:3000])

