"""Shared by the runner tests: tiny grids, the CLI in a subprocess, the store read back, and
servers or clusters started in their own session and stopped by their process group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from environment import SHARED, TINY_DATA  # noqa: F401  (re-exported to the tests)

from benchmark.checkpoint import checkpoints
from benchmark.validation import merge

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# A run of a few seconds: the embedded digits, an eighth of the paper's channels, z_dim 8.
TINY_BASE = {
    "data": {"dataset": "digits", "batch_size": 50},
    "model": {"z_dim": 8, "width": 0.125},
    "train": {"steps": 12, "log_every": 2, "eval_every": 6, "checkpoint_every": 3},
    "eval": {"metrics": ["recon_mse"], "recon_count": 60},
}
# The same run checkpointed and evaluated every 4 steps with small panels: the training and
# fault tests kill and resume it between checkpoints.
TINY_CHECKPOINTED = merge(TINY_BASE, {
    "train": {"eval_every": 4, "checkpoint_every": 4},
    "eval": {"recon_count": 64, "panel_count": 4, "interpolation_steps": 4},
})
FINAL_METRICS = ("loss_d", "loss_g", "recon_mse")


def write_grid(path: Path, name: str, base: dict | None = None, **rest) -> Path:
    """A grid file: TINY_BASE merged with `base`, plus axes/runs/exclude as given."""
    raw = {"name": name, "base": merge(TINY_BASE, base or {}), **rest}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def cli_env() -> dict[str, str]:
    """One torch thread per process: 2 shared cores, other test processes beside us."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def store_args(folder: Path) -> list[str]:
    return ["--tracking-uri", f"sqlite:///{folder}/mlflow.db",
            "--checkpoint-dir", str(folder / "ckpt")]


def saved_checkpoints(ckpt: Path) -> dict[str, list[int]]:
    """Checkpointed steps per run folder under a grid's --checkpoint-dir. Hidden entries are
    skipped: the runner's writability probe (`.alibench-probe-*`) appears and vanishes there
    between a listing and its reading."""
    return {d.name: sorted(step for step, _ in checkpoints(d))
            for d in sorted(ckpt.glob("*")) if not d.name.startswith(".")}


def run_cli(args: list[str], cwd: Path, timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmark.run", *args], cwd=cwd,
                          env=env or cli_env(), capture_output=True, text=True, timeout=timeout)


def client(folder: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")


def training_runs(folder: Path, experiment: str) -> list:
    """Every training run (not grid parents) of the experiment, as MLflow `Run`s."""
    mlflow_client = client(folder)
    found = mlflow_client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = mlflow_client.search_runs([found.experiment_id], max_results=1000)
    return [r for r in runs if r.data.tags.get("alibench.kind") == "run"]


def history(folder: Path, run_id: str, metric: str) -> list[tuple[int, float]]:
    """(step, value) of every logged point of one metric, in step order."""
    points = client(folder).get_metric_history(run_id, metric)
    return sorted((m.step, m.value) for m in points)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float, what: str,
               proc: subprocess.Popen | None = None) -> object:
    """Poll `check` until it returns something truthy; fail naming `what` (and a dead `proc`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode} first")
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def start_session(cmd: list[str], log: Path, cwd: Path | None = None,
                  env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `cmd` as the leader of a new session, so its whole process tree can be stopped.

    With SIGINT's default action: a shell that starts the tests in the background (`nohup`,
    `&`) has SIGINT ignored, the child would inherit that, and Ctrl-C could not reach it."""
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                env=env or cli_env(), start_new_session=True,
                                preexec_fn=_default_sigint)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of a session, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            members.append(int(entry.name))
    return members


def stop_session(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left; only this session's processes."""
    sid = proc.pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, sig)
        for pid in session_members(sid):  # any that moved to a group of its own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()
            if not session_members(sid):
                return
            time.sleep(0.2)
    proc.poll()
    left = session_members(sid)
    assert not left, f"processes of session {sid} survived SIGKILL: {left}"


def ui_healthy(base: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def mlflow_ui(folder: Path):
    """The real `mlflow ui` on `folder`'s sqlite store, one worker, stopped by its session;
    yields its base address."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The background job runner serves GenAI features this suite does not use; off, it spares
    # the shared cores half a dozen worker processes.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = start_session(
        [str(BIN / "mlflow"), "ui", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        folder / "ui.log", folder, env)
    try:
        wait_until(lambda: ui_healthy(base), 180, "mlflow ui serving", server)
        yield base
    finally:
        stop_session(server)


class MemoryTracker:
    """The tracker interface a run reports to, kept in memory: a test of one run through
    `benchmark.training.train` needs no store (the CLI tests use the real MLflow one)."""

    def __init__(self) -> None:
        self.metrics: dict[str, dict[int, float]] = {}  # key -> step -> value
        self.tags: dict[str, str] = {}
        self.datasets: list = []

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.metrics.setdefault(key, {})[step] = value

    def log_image(self, image, path: str) -> None:
        pass

    def set_tags(self, tags: dict[str, str]) -> None:
        self.tags.update(tags)

    def log_datasets(self, records: list) -> None:
        self.datasets.extend(records)

    def steps(self) -> list[int]:
        return sorted({s for by_step in self.metrics.values() for s in by_step})

    def at_step(self, step: int, skip: set[str] = frozenset()) -> dict[str, float]:
        return {k: v[step] for k, v in self.metrics.items() if step in v and k not in skip}
