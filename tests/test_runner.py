"""The grid runner end to end: dry runs, idempotent reruns, SIGKILL and resume, retries.

What "two grids share a run" means here: a run is identified by its key *within the grid's
experiment* (the grid's `name`). Two grid files with the same `name` that both contain a run
(however spelled) execute it once and both report its result; a grid with another name is
another experiment and runs it again.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runner_helpers import (
    FINAL_METRICS,
    ROOT,
    TINY_DATA,
    cli_env,
    client,
    history,
    run_cli,
    session_members,
    start_session,
    store_args,
    training_runs,
    wait_until,
    write_grid,
)

from benchmark.grid import load_grid
from benchmark.run import main
from benchmark.run_config import run_key

GRIDS = sorted((ROOT / "grids").glob("*.yaml"))


def dry_run_rows(capsys, grid: Path, folder: Path, *extra: str) -> dict[str, str]:
    """`--dry-run` in process: {run key: state} parsed from its table."""
    assert main(["--grid", str(grid), *store_args(folder), "--dry-run", *extra]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:4] == ["#", "run", "key", "state"], lines
    rows = [line.split() for line in lines[2:]]
    return {row[1]: row[2] for row in rows}


# --- grids -----------------------------------------------------------------------------------


def test_paper_grid_is_the_seed_reports_table_1():
    grid = load_grid(ROOT / "grids" / "paper.yaml")
    table = {(r.data.dataset, r.model.z_dim, r.optim.lr_g, r.optim.lr_d, r.train.steps)
             for r in grid.runs}
    assert table == {("mnist", 128, 2e-4, 1e-5, 60_000), ("svhn", 256, 2e-4, 1e-4, 73_257),
                     ("celeba", 256, 2e-4, 1e-4, 162_770)}
    assert sorted(r.seed for r in grid.runs) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for r in grid.runs:
        assert (r.data.batch_size, r.data.image_size, r.model.width) == (100, 28, 1.0)
        assert (r.optim.name, r.optim.options.beta1, r.optim.options.beta2) == ("adam", 0.5, 0.999)


@pytest.mark.parametrize("path", GRIDS, ids=[p.stem for p in GRIDS])
def test_shipped_grid_is_documented_and_dry_runs(path, tmp_path, capsys):
    lines = path.read_text().splitlines()
    comments = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    assert comments >= 2, f"{path.name}: start with a comment block saying what it measures"
    rows = dry_run_rows(capsys, path, tmp_path / "store", "--data-root", "/nonexistent")
    assert list(rows) == [run_key(r) for r in load_grid(path).runs]
    assert set(rows.values()) == {"new"}
    assert not (tmp_path / "store").exists(), "a dry run must not create the store"


def test_dry_run_shows_each_runs_state_in_the_store(tmp_path, capsys):
    from benchmark.run_config import config_key, flat_params, run_name
    from benchmark.tracking import TAG_CONFIG_KEY, TAG_RUN_KEY, MlflowStore, Outcome

    grid_file = write_grid(tmp_path / "g.yaml", "states", axes={"seed": [0, 1, 2, 3, 4]})
    grid = load_grid(grid_file)
    store = MlflowStore(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = store.experiment_id("states")
    parent = store.start_grid(experiment, "states", grid_file)
    outcomes = [Outcome.FINISHED, Outcome.FAILED, Outcome.DIVERGED, None]  # None: killed
    for cfg, outcome in zip(grid.runs, outcomes, strict=False):
        tags = {TAG_RUN_KEY: run_key(cfg), TAG_CONFIG_KEY: config_key(cfg)}
        run_id = store.start_run(experiment, run_name(cfg), flat_params(cfg), tags, parent)
        if outcome is not None:
            store.finish(run_id, outcome)
    rows = dry_run_rows(capsys, grid_file, tmp_path)
    assert list(rows.values()) == ["finished", "failed", "diverged", "interrupted", "new"]
    assert list(rows) == [run_key(r) for r in grid.runs]
    # Another experiment shares nothing with this one.
    other = write_grid(tmp_path / "o.yaml", "states-elsewhere", axes={"seed": [0, 1, 2, 3, 4]})
    assert set(dry_run_rows(capsys, other, tmp_path).values()) == {"new"}


def test_dry_run_piped_into_head_ends_quietly(tmp_path):
    """`--dry-run | head`: the reader closes the pipe early; no BrokenPipeError traceback."""
    grid = write_grid(tmp_path / "g.yaml", "piped", axes={"seed": list(range(2000))})
    proc = subprocess.Popen([sys.executable, "-m", "benchmark.run", "--grid", str(grid),
                             "--dry-run"], cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("grid 'piped': 2000 runs")
    proc.stdout.close()  # what `head -1` does (2000 rows overflow the pipe's buffer)
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in stderr, stderr


def test_dry_run_and_config_errors_do_not_import_the_evaluation_libraries(tmp_path):
    """torch-fidelity, torchvision, sklearn and matplotlib take seconds to import; a dry run or a
    typo in a grid needs none of them (bench/scale.py times the CLI)."""
    grid = write_grid(tmp_path / "g.yaml", "light", axes={"seed": [0, 1]})
    typo = write_grid(tmp_path / "typo.yaml", "light", base={"optim": {"lr_gg": 1.0}})
    probe = (
        "import sys\nfrom benchmark.run import main\n"
        "def code(argv):\n"
        "    try:\n        return main(argv)\n"
        "    except SystemExit as e:\n        return e.code\n"
        f"codes = [code(['--grid', {str(grid)!r}, '--dry-run', '--tracking-uri', "
        f"'sqlite:///{tmp_path}/mlflow.db']), code(['--grid', {str(typo)!r}, '--dry-run'])]\n"
        "heavy = ('torch_fidelity', 'torchvision', 'sklearn', 'matplotlib')\n"
        "print(codes, sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=cli_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().splitlines()[-1] == "[0, 2] []", done.stdout + done.stderr


# --- killed and resumed ----------------------------------------------------------------------


def grid_runs(folder: Path, experiment: str) -> list:
    """The grid (parent) runs of an experiment: one per invocation."""
    found = client(folder).get_experiment_by_name(experiment)
    return client(folder).search_runs([found.experiment_id], "tags.`alibench.kind` = 'grid'")


def by_key(runs: list) -> dict:
    out: dict = {}
    for run in runs:
        out.setdefault(run.data.tags["run_key"], []).append(run)
    return out


@pytest.mark.slow
def test_grid_killed_with_sigkill_resumes_to_the_numbers_of_an_uninterrupted_grid(
        tmp_path, capsys):
    grid = write_grid(tmp_path / "g.yaml", "killed", axes={"seed": [0, 1, 2]}, base={
        "train": {"steps": 20, "log_every": 2, "eval_every": 10, "checkpoint_every": 5}})
    keys = [run_key(r) for r in load_grid(grid).runs]
    victim, reference = tmp_path / "victim", tmp_path / "reference"
    victim.mkdir()
    reference.mkdir()
    command = [sys.executable, "-m", "benchmark.run", "--grid", str(grid)]
    ref = start_session([*command, *store_args(reference)], reference / "log.txt", reference)
    first = start_session([*command, *store_args(victim)], victim / "log.txt", victim)
    try:
        # Kill in the middle of the second run: the first is finished, the third not started.
        wait_until(lambda: list((victim / "ckpt" / keys[1]).glob("step_*.pt")), 300,
                   "a checkpoint of the second run", first)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        wait_until(lambda: not session_members(first.pid), 10, "every killed process gone")

        states = dry_run_rows(capsys, grid, victim)
        assert list(states.values()) == ["finished", "interrupted", "new"], states
        started = {k: r[0].info.run_id for k, r in by_key(training_runs(victim, "killed")).items()}

        (killed_grid,) = grid_runs(victim, "killed")
        assert killed_grid.info.status == "RUNNING"  # nothing could end it

        again = run_cli(["--grid", str(grid), *store_args(victim)], victim)
        assert again.returncode == 0, again.stdout + again.stderr
        statuses = {r.info.run_id: r.info.status for r in grid_runs(victim, "killed")}
        assert statuses.pop(killed_grid.info.run_id) == "KILLED"  # the rerun noticed it died
        assert list(statuses.values()) == ["FINISHED"]
        outcomes = [line.split()[4] for line in again.stdout.splitlines()]
        assert outcomes == ["skipped-finished", "finished", "finished"], again.stdout
        resumed_at = re.findall(r"start \S+-s1 \(resumed after step (\d+)\)", again.stderr)
        assert resumed_at and int(resumed_at[0]) in (5, 10, 15), again.stderr
        assert ref.wait(timeout=600) == 0, (reference / "log.txt").read_text()
    finally:
        for proc in (first, ref):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    resumed, uninterrupted = (by_key(training_runs(f, "killed")) for f in (victim, reference))
    assert set(resumed) == set(uninterrupted) == {run_key(r) for r in load_grid(grid).runs}
    for key, runs in resumed.items():
        assert len(runs) == 1, f"run {key}: {len(runs)} MLflow runs, expected one"
        run, twin = runs[0], uninterrupted[key][0]
        assert (run.info.status, run.data.tags["outcome"]) == ("FINISHED", "finished")
        if key in started:
            assert run.info.run_id == started[key], "a resumed run continues its MLflow run"
        assert set(run.data.metrics) == set(twin.data.metrics)
        for metric in run.data.metrics:
            steps = [s for s, _ in history(victim, run.info.run_id, metric)]
            assert len(steps) == len(set(steps)), f"{key} {metric}: a step logged twice"
            assert steps == [s for s, _ in history(reference, twin.info.run_id, metric)]
        for metric in FINAL_METRICS:
            got = history(victim, run.info.run_id, metric)[-1]
            want = history(reference, twin.info.run_id, metric)[-1]
            assert got == want, f"run {key} {metric} (step, value): resumed {got}, " \
                                f"uninterrupted {want}"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize(("executor", "how"), [("local", "ctrl-c"), ("processes", "ctrl-c"),
                                               ("processes", "sigterm")])
def test_ctrl_c_ends_the_grid_run_killed_and_says_how_to_resume(tmp_path, executor, how):
    """Ctrl-C reaches the whole process group; SIGTERM (`kill`, `pkill`) only the grid's own
    process, which must then stop its workers: none may live on as an orphan."""
    grid = write_grid(tmp_path / "g.yaml", "ctrl-c", base={"train": {"steps": 400}})
    key = run_key(load_grid(grid).runs[0])
    invocation = start_session([sys.executable, "-m", "benchmark.run", "--grid", str(grid),
                                "--executor", executor, "--workers", "1",
                                *store_args(tmp_path)], tmp_path / "log.txt", tmp_path)
    try:
        wait_until(lambda: list((tmp_path / "ckpt" / key).glob("step_*.pt")), 300,
                   "a first checkpoint", invocation)
        if how == "ctrl-c":
            os.killpg(invocation.pid, signal.SIGINT)
        else:
            os.kill(invocation.pid, signal.SIGTERM)
        assert invocation.wait(timeout=60) == 130
        deadline = time.time() + 30
        while _group_alive(invocation.pid) and time.time() < deadline:
            time.sleep(0.2)
        assert not _group_alive(invocation.pid), "a worker outlived the grid's process"
    finally:
        if invocation.poll() is None:
            os.killpg(invocation.pid, signal.SIGKILL)
            invocation.wait()
    log = (tmp_path / "log.txt").read_text()
    assert "interrupted: run the same command again to resume" in log and "Traceback" not in log
    (parent,) = grid_runs(tmp_path, "ctrl-c")
    assert parent.info.status == "KILLED"
    (run,) = training_runs(tmp_path, "ctrl-c")  # not failed: the next invocation resumes it
    assert (run.info.status, run.data.tags["outcome"]) == ("RUNNING", "running")


# --- idempotent reruns, retries, shared runs -------------------------------------------------


def ckpt_state(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted((folder / "ckpt").rglob("*.pt"))}


def all_histories(folder: Path, experiment: str) -> dict:
    return {(r.data.tags["run_key"], m): history(folder, r.info.run_id, m)
            for r in training_runs(folder, experiment) for m in r.data.metrics}


@pytest.mark.slow
def test_rerun_skips_finished_runs_and_retries_failed_ones_only_when_asked(tmp_path, capsys):
    # MNIST files that are there (the grid's data check passes) but unreadable (the run fails).
    corrupt = tmp_path / "corrupt"
    (corrupt / "mnist").mkdir(parents=True)
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            (corrupt / "mnist" / f"{split}-{kind}-ubyte").write_bytes(b"not an idx file")
    base = {"data": {"data_root": str(corrupt)}}
    mnist = {"data.dataset": "mnist", "data.train_subset": 200, "data.test_subset": 100}
    grid_a = write_grid(tmp_path / "a.yaml", "shared", base=base,
                        runs=[{"data.dataset": "digits"}, mnist], axes={"seed": [0]})

    # 1. The digits run finishes; the MNIST run fails (corrupt files) and the grid goes on.
    first = run_cli(["--grid", str(grid_a), *store_args(tmp_path)], tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr
    out = first.stdout.splitlines()
    assert len(out) == 2 and out[0].startswith("[1/2] benchmark.run: digits-"), first.stdout
    assert " finished step=12 " in out[0] and " failed " in out[1] and "DataError" in out[1]
    # Not a terminal: plain progress lines, no bar redrawn in place.
    assert "\r" not in first.stderr + first.stdout
    assert "benchmark.run: start digits-" in first.stderr
    assert "step 12/12" in first.stderr
    runs = by_key(training_runs(tmp_path, "shared"))
    failed = next(r[0] for r in runs.values() if r[0].data.tags["outcome"] == "failed")
    assert str(corrupt) in failed.data.tags["error"]
    before = (ckpt_state(tmp_path), all_histories(tmp_path, "shared"))

    # 2. Rerun (in process: nothing trains, so no torch state is touched): nothing is retried.
    capsys.readouterr()
    assert main(["--grid", str(grid_a), *store_args(tmp_path)]) == 0
    second = capsys.readouterr()
    assert [line.split()[4] for line in second.out.splitlines()] == [
        "skipped-finished", "skipped-failed"], second.out
    assert "benchmark.run: start" not in second.err
    assert (ckpt_state(tmp_path), all_histories(tmp_path, "shared")) == before
    assert len(training_runs(tmp_path, "shared")) == 2

    # 3. Another grid file with the same name holds both runs, spelled otherwise: it shares
    # them. Fixing the data root and asking for retries runs the failed one again, in its run.
    grid_b = write_grid(tmp_path / "b.yaml", "shared", base=base, runs=[
        {"data": {"dataset": "mnist", "train_subset": 200, "test_subset": 100}, "seed": 0},
        {"data": {"dataset": "digits", "image_size": 28}, "seed": 0}])
    assert sorted(dry_run_rows(capsys, grid_b, tmp_path).values()) == ["failed", "finished"]

    third = run_cli(["--grid", str(grid_b), *store_args(tmp_path), "--data-root", str(TINY_DATA),
                     "--retry-failed"], tmp_path)
    assert third.returncode == 0, third.stdout + third.stderr
    lines = third.stdout.splitlines()
    assert " mnist-" in lines[0] and " finished step=12 " in lines[0], third.stdout
    assert " digits-" in lines[1] and " skipped-finished " in lines[1], third.stdout
    after = by_key(training_runs(tmp_path, "shared"))
    assert {k: [r.info.run_id for r in v] for k, v in after.items()} == {
        k: [r.info.run_id for r in v] for k, v in runs.items()}, "one MLflow run per key"
    retried = after[failed.data.tags["run_key"]][0]
    assert (retried.info.status, retried.data.tags["outcome"]) == ("FINISHED", "finished")
    assert "error" not in retried.data.tags, "a retried run that finished keeps no stale error"
    digits_key = next(k for k in runs if k != failed.data.tags["run_key"])
    histories = all_histories(tmp_path, "shared")
    digits_curves = {k: v for k, v in histories.items() if k[0] == digits_key}
    assert digits_curves == {k: v for k, v in before[1].items() if k[0] == digits_key}

    # 4. A grid with another name is another experiment: it runs the digits run again, from
    # step 0 (the checkpoints of the other experiment's run hold no curves for this one), to
    # the same numbers.
    grid_d = write_grid(tmp_path / "d.yaml", "elsewhere", base=base,
                        runs=[{"data.dataset": "digits"}], axes={"seed": [0]})
    fourth = run_cli(["--grid", str(grid_d), *store_args(tmp_path)], tmp_path)
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    assert " finished step=12 " in fourth.stdout, fourth.stdout
    assert "starting from step 0 (moved them to " in fourth.stderr, fourth.stderr
    assert len(list((tmp_path / "ckpt").glob(f"{digits_key}.unknown-*/step_*.pt"))) == 2
    clocks = ("cpu_time_s", "wall_time_s")
    assert {k: v for k, v in all_histories(tmp_path, "elsewhere").items()
            if k[1] not in clocks} == {k: v for k, v in digits_curves.items()
                                       if k[1] not in clocks}

