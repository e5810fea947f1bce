"""A corpus of user mistakes: each exits 2 with one `error:` line naming the problem, prints no
traceback and creates no run (no tracking store, no `runs/`, no checkpoint, no report).

Like torch's `common_optimizers` error-input tables: one row per mistake with the regex its
message must match. Most rows run `main()` in this process (milliseconds each); a handful run
the real `python -m ...` in a subprocess, to show what a terminal gets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pytest
from environment import shared_data
from reliability_helpers import (
    Outcome,
    assert_nothing_created,
    assert_one_error_line,
    run_cli,
    run_main,
    store_args,
    tiny_grid,
    write_grid,
)
from runner_helpers import SHARED, free_port

from benchmark import report, run

UNREACHABLE = "http://127.0.0.1:1"  # nothing listens on port 1: connection refused
NO_RAY = f"127.0.0.1:{free_port()}"  # a port just free: nothing listens there
STORE = ["--tracking-uri", "sqlite:///{dir}/store/mlflow.db"]  # cases with their own --checkpoint-dir


@dataclass
class Case:
    id: str
    grid: dict | str | bytes | None  # None: the argv names the grid itself
    pattern: str  # regex the message after `error: ` must match
    args: list[str] = field(default_factory=list)  # `{dir}` is the test's fresh folder
    store: bool = True  # add a fresh sqlite store and checkpoint folder


def base(**sections) -> dict:
    return tiny_grid(base=sections)


CASES = [
    # --- syntax ---------------------------------------------------------------------------
    Case("yaml-unclosed-bracket", "name: x\nbase: {data: [\n", r"not valid YAML at line \d+"),
    Case("yaml-tab-indent", "name: x\nbase:\n\tdata: {}\n", r"not valid YAML at line 3"),
    Case("yaml-repeated-key", "name: x\nbase: {train: {steps: 3}}\nbase: {}\n",
         r"line 3.*key 'base' appears twice"),
    Case("yaml-empty-file", "", r"a grid is a mapping with keys name"),
    Case("yaml-list-at-top", "- name: x\n", r"a grid is a mapping with keys name"),
    Case("yaml-alias-cycle", "name: x\nbase: &b {data: *b}\n",
         r"a YAML alias refers to a value that contains it"),
    # --- unknown keys ---------------------------------------------------------------------
    Case("unknown-top-level-key", {**tiny_grid(), "seeds": [0, 1]},
         r"^seeds: unknown grid key; valid keys: name, .*axes"),
    Case("unknown-key-in-section", base(train={"step": 5}),
         r"^train\.step: unknown key; valid keys here: steps"),
    Case("unknown-stabilizer-option", base(stabilizers=[{"name": "instance_noise", "sigma": 1}]),
         r"^stabilizers\[0\]\.sigma: unknown key; valid keys here: std"),
    Case("unknown-key-in-runs", tiny_grid(runs=[{"optim.lr": 1e-3}]),
         r"^optim\.lr: unknown key; valid keys here: name, lr_g, lr_d"),
    Case("unknown-section-in-axes", tiny_grid(axes={"trian.steps": [5]}),
         r"^trian: unknown key; valid keys here: seed, .*train"),
    Case("unknown-key-in-exclude", tiny_grid(axes={"seed": [0, 1]}, exclude=[{"optim.bogus": 1}]),
         r"^exclude\[0\]\.optim\.bogus: unknown key; valid keys here: name, lr_g, lr_d"),
    Case("unknown-section-in-exclude", tiny_grid(axes={"seed": [0, 1]}, exclude=[{"bogus": 1}]),
         r"^exclude\[0\]\.bogus: unknown key; valid keys here: seed, .*stabilizers"),
    Case("missing-name", {"base": {"data": {"dataset": "digits"}}},
         r"^name: expected a non-empty name"),
    # --- wrong types ----------------------------------------------------------------------
    Case("string-for-int", base(train={"steps": "ten"}), r"^train\.steps: expected int, got 'ten'"),
    Case("float-for-int", base(model={"z_dim": 8.5}), r"^model\.z_dim: expected int, got 8\.5"),
    Case("bool-for-float", base(optim={"lr_g": True}), r"^optim\.lr_g: expected float, got True"),
    Case("list-for-mapping", base(optim=["adam"]), r"^optim: expected a mapping, got \['adam'\]"),
    Case("string-for-bool", base(scheme={"resample": "yes"}),
         r"^scheme\.resample: expected true or false, got 'yes'"),
    Case("string-for-list", base(eval={"metrics": "recon_mse"}),
         r"^eval\.metrics: expected a list, got 'recon_mse'"),
    Case("scalar-axis", tiny_grid(axes={"seed": 3}), r"^axes\.seed: expected a non-empty list"),
    Case("runs-of-strings", tiny_grid(runs=["adam"]), r"^runs: expected a list of mappings"),
    # --- out of range ---------------------------------------------------------------------
    Case("negative-lr", base(optim={"lr_d": -1e-4}), r"^optim\.lr_d: -0\.0001 must be greater than 0"),
    Case("zero-steps", base(train={"steps": 0}), r"^train\.steps: 0 is below the minimum 1"),
    Case("dropout-2", base(model={"dropout": 2}), r"^model\.dropout: 2\.0 is above the maximum 0\.9"),
    Case("image-size-30", base(data={"image_size": 30}),
         r"^data\.image_size: unknown value 30; choose from: 28, 32, 64"),
    Case("batch-size-0", base(data={"batch_size": 0}), r"^data\.batch_size: 0 is below the minimum 1"),
    Case("nan-lr", "name: x\nbase: {optim: {lr_g: .nan}}\n", r"^optim\.lr_g: nan is not a finite"),
    Case("smoothing-alpha-0.7", base(stabilizers=[{"name": "label_smoothing", "alpha": 0.7}]),
         r"^stabilizers\[0\]\.alpha: 0\.7 is above the maximum 0\.5"),
    Case("kid-subset-too-large", base(eval={"metrics": ["fid"], "fid_gen_count": 50,
                                                      "kid_subset_size": 100}),
         r"^eval\.kid_subset_size: 100 exceeds the smaller FID sample count 50"),
    # --- unknown names --------------------------------------------------------------------
    Case("unknown-dataset", base(data={"dataset": "mnits"}),
         r"^data\.dataset: unknown value 'mnits'; choose from: .*mnist"),
    Case("unknown-optimizer", base(optim={"name": "adamw"}),
         r"^optim\.name: unknown value 'adamw'; choose from: .*extra_adam"),
    Case("unknown-scheme", base(scheme={"name": "jacobi"}),
         r"^scheme\.name: unknown value 'jacobi'; choose from: alternating"),
    Case("unknown-stabilizer", base(stabilizers=[{"name": "dropout_noise"}]),
         r"^stabilizers\[0\]\.name: unknown value 'dropout_noise'; choose from: .*instance_noise"),
    Case("unknown-metric", base(eval={"metrics": ["fdi"]}),
         r"^eval\.metrics(\[0\])?: unknown value 'fdi'; choose from: .*fid"),
    Case("unknown-fid-extractor", base(eval={"metrics": ["fid"], "fid_extractor": "vgg"}),
         r"^eval\.fid_extractor: unknown value 'vgg'; choose from: classifier"),
    Case("unknown-device", {**tiny_grid(), "base": {**tiny_grid()["base"], "device": "tpu"}},
         r"^device: unknown value 'tpu'; choose from: auto, cpu, cuda"),
    # --- impossible pairs -----------------------------------------------------------------
    Case("extragradient-with-adam", base(optim={"name": "adam"}, scheme={"name": "extragradient"}),
         r"^optim\.name: 'adam' does not fit scheme\.name 'extragradient'; choose from: .*extra_adam"),
    Case("alternating-with-extra-adam",
         base(optim={"name": "extra_adam"}, scheme={"name": "alternating"}),
         r"^optim\.name: 'extra_adam' does not fit scheme\.name 'alternating'; choose from: adam"),
    Case("momentum-with-adam", base(optim={"name": "adam", "momentum": 0.9}),
         r"^(optim\.)?momentum: value 0\.9 has no effect with optim\.name 'adam'"),
    Case("negative-momentum-simultaneous",
         base(optim={"name": "sgd", "momentum": -0.5}, scheme={"name": "simultaneous"}),
         r"^optim\.momentum: negative value -0\.5 does not fit optim\.name 'sgd' and "
         r"scheme\.name 'simultaneous'; negative momentum \(Gidel et al\. 2019\) fits only: "
         r"sgd under scheme\.name alternating$"),
    Case("lookahead-alpha-without-k", base(optim={"lookahead_alpha": 0.3}),
         r"^optim\.lookahead_alpha: value 0\.3 has no effect with optim\.lookahead_k 0"),
    Case("modes-on-images", base(eval={"metrics": ["modes"]}),
         r"^eval\.metrics: 'modes' does not apply to image data; choose from: .*recon_mse"),
    Case("fid-on-mixture25", base(data={"dataset": "mixture25"}, eval={"metrics": ["fid"]}),
         r"^eval\.metrics: 'fid' does not apply to points data; choose from: .*modes"),
    Case("stabilizer-listed-twice",
         base(stabilizers=[{"name": "label_smoothing"}, {"name": "label_smoothing"}]),
         r"^stabilizers: 'label_smoothing' is listed twice"),
    Case("exclude-removes-everything", tiny_grid(axes={"seed": [0]}, exclude=[{"seed": 0}]),
         r"^exclude: the rules remove every run"),
    # --- missing and unreadable files -----------------------------------------------------
    Case("grid-missing", None, r"^--grid: no such file '.*nowhere\.yaml'",
         ["--grid", "{dir}/nowhere.yaml"]),
    Case("grid-is-a-folder", None, r"^--grid: '.*a_folder' is a folder", ["--grid", "{dir}/a_folder"]),
    Case("grid-not-utf8", bytes(range(256)), r"is not UTF-8 text"),
    Case("mnist-root-is-a-file", base(data={"dataset": "mnist"}),
         r"^mnist: no train-images-idx3-ubyte\.gz .* in .*a_file/mnist", ["--data-root", "{dir}/a_file"]),
    Case("mnist-root-empty", base(data={"dataset": "mnist"}),
         r"^mnist: no train-images-idx3-ubyte\.gz .*; pass --data-root DIR", ["--data-root", "{dir}/empty"]),
    Case("cifar10-root-empty", base(data={"dataset": "cifar10", "image_size": 32}),
         r"^cifar10: no data_batch_\* pickle files in .*empty", ["--data-root", "{dir}/empty"]),
    Case("celeba-root-empty", base(data={"dataset": "celeba", "image_size": 32},
                                   eval={"metrics": ["recon_mse"]}),
         r"^celeba: no folder of face images at .*empty", ["--data-root", "{dir}/empty"]),
    Case("mnist-root-in-one-run-only",
         tiny_grid(runs=[{}, {"data.dataset": "mnist", "data.data_root": "/nonexistent/data"}]),
         r"^mnist: no .* in /nonexistent/data/mnist"),
    # --- tracking store -------------------------------------------------------------------
    Case("tracking-unknown-scheme", tiny_grid(), r"^--tracking-uri: cannot use 'foo://bar'",
         ["--tracking-uri", "foo://bar"], store=False),
    Case("tracking-sqlite-under-a-file", tiny_grid(),
         r"^--tracking-uri: cannot use 'sqlite:///.*a_file/mlflow\.db'",
         ["--tracking-uri", "sqlite:///{dir}/a_file/mlflow.db"], store=False),
    # --- checkpoint folder ----------------------------------------------------------------
    Case("checkpoint-dir-under-a-file", tiny_grid(),
         r"^--checkpoint-dir: cannot create '.*a_file/ckpt': '.*a_file' is a file",
         [*STORE, "--checkpoint-dir", "{dir}/a_file/ckpt"], store=False),
    Case("checkpoint-dir-is-a-file", tiny_grid(),
         r"^--checkpoint-dir: cannot create '.*a_file': '.*a_file' is a file",
         [*STORE, "--checkpoint-dir", "{dir}/a_file"], store=False),
    Case("checkpoint-dir-in-proc", tiny_grid(),
         r"^--checkpoint-dir: cannot create '/proc/alibench/ckpt': no folder can be made in "
         r"'/proc'", [*STORE, "--checkpoint-dir", "/proc/alibench/ckpt"], store=False),
    # --- ray cluster ----------------------------------------------------------------------
    Case("ray-address-nothing-listens", tiny_grid(),
         rf"^--ray-address: nothing answers at '{NO_RAY}' \(Connection refused\)",
         ["--executor", "ray", "--ray-address", NO_RAY]),
    Case("ray-address-without-port", tiny_grid(),
         r"^--ray-address: expected HOST:PORT \(or auto\), got '127\.0\.0\.1'",
         ["--executor", "ray", "--ray-address", "127.0.0.1"]),
    # --- command line ---------------------------------------------------------------------
    Case("workers-0", tiny_grid(), r"^--workers: expected at least 1, got 0", ["--workers", "0"]),
    Case("workers-not-a-number", tiny_grid(), r"argument --workers: invalid int value: 'two'",
         ["--workers", "two"]),
    Case("unknown-executor", tiny_grid(), r"argument --executor: invalid choice: 'kubernetes'",
         ["--executor", "kubernetes"]),
    Case("slurm-without-sbatch", tiny_grid(), r"^--executor slurm: sbatch not found; .* "
         r"--slurm-cluster local", ["--executor", "slurm"]),
    Case("slurm-time-0", tiny_grid(), r"^--slurm-time: expected at least 1, got 0",
         ["--executor", "slurm", "--slurm-cluster", "local", "--slurm-time", "0"]),
    Case("set-without-equals", tiny_grid(), r"^--set: expected key=value, got 'train\.steps'",
         ["--set", "train.steps"]),
    Case("set-unknown-key", tiny_grid(), r"^unknown: unknown key; valid keys here: seed",
         ["--set", "unknown.key=1"]),
    Case("set-unparsable-value", tiny_grid(), r"^--set train\.steps: cannot parse the value '\['",
         ["--set", "train.steps=["]),
    Case("set-out-of-range", tiny_grid(), r"^train\.steps: -3 is below the minimum 1",
         ["--set", "train.steps=-3"]),
    Case("no-grid-argument", None, r"the following arguments are required: --grid", []),
]


def _argv(case: Case, folder: Path) -> list[str]:
    """`--grid` with the case's grid, the case's arguments, then a fresh store unless the case
    brings its own (argparse keeps the last of a repeated option)."""
    argv = []
    if case.grid is not None:
        argv += ["--grid", str(write_grid(folder, case.grid))]
    argv += [a.format(dir=folder) for a in case.args]
    return argv + (store_args(folder) if case.store else [])


def _prepare(folder: Path) -> None:
    """The things the cases point at: an empty folder, a plain file, a folder named like a grid."""
    (folder / "empty").mkdir()
    (folder / "a_file").write_text("not a folder\n")
    (folder / "a_folder").mkdir()


def test_the_corpus_is_large_and_each_case_is_distinct():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_tiny_grid_itself_is_valid(workdir, capsys):
    """The corpus mutates a grid that passes: each failure is the case's own mistake."""
    out = run_main(run.main, ["--grid", str(write_grid(workdir, tiny_grid())), "--dry-run",
                              *store_args(workdir)], capsys)
    assert out.code == 0 and "1 runs" in out.stdout, out.stderr


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_run_cli_mistake_is_one_line_and_creates_nothing(case, workdir, capsys):
    _prepare(workdir)
    outcome = run_main(run.main, _argv(case, workdir), capsys)
    assert_one_error_line(outcome, case.pattern, case.id)
    assert_nothing_created(workdir, case.id)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a read-only folder anyway")
def test_a_read_only_checkpoint_folder_is_one_line(workdir, capsys):
    """The cases above cover what root cannot write either (under a file, /proc)."""
    locked = workdir / "locked"
    locked.mkdir(mode=0o500)
    try:
        outcome = run_main(run.main, ["--grid", str(write_grid(workdir, tiny_grid())),
                                      *[a.format(dir=workdir) for a in STORE],
                                      "--checkpoint-dir", str(locked / "ckpt")], capsys)
    finally:
        locked.chmod(0o700)
    assert_one_error_line(outcome, r"^--checkpoint-dir: cannot create '.*locked/ckpt': no folder "
                                   r"can be made in '.*locked' \(mkdir: Permission denied\)")
    assert_nothing_created(workdir)
    assert list(locked.iterdir()) == []


def test_unreachable_tracking_server_is_one_line(workdir, capsys):
    outcome = run_main(run.main, ["--grid", str(write_grid(workdir, tiny_grid())),
                                  "--tracking-uri", UNREACHABLE], capsys)
    assert_one_error_line(outcome, r"^--tracking-uri: cannot use 'http://127\.0\.0\.1:1'")
    assert_nothing_created(workdir)


def test_the_reachability_check_shortens_mlflow_retries_only_inside_it(monkeypatch):
    """MLflow alone retries a refused connection for about four minutes; the check asks for
    fewer retries and a short timeout, leaves a user's own settings alone, and restores."""
    from benchmark.tracking import FAIL_FAST_ENV, fail_fast

    user_key, our_key = sorted(FAIL_FAST_ENV)[:2]
    monkeypatch.setenv(user_key, "7")
    monkeypatch.delenv(our_key, raising=False)
    with fail_fast():
        assert os.environ[our_key] == FAIL_FAST_ENV[our_key]
        assert os.environ[user_key] == "7"
    assert our_key not in os.environ and os.environ[user_key] == "7"


# --- counts beyond the data: each run's split sizes, before anything is created ----------------
# Before the preflight, each of these passed grid validation and every run failed at step 0,
# leaving a failed MLflow run per run (and a checkpoint folder) behind.

CIFAR = {"dataset": "cifar10", "image_size": 32, "data_root": str(SHARED)}  # 5 x 1,017 + 1,017
CIFAR_PROBE = {"metrics": ["recon_mse", "probe"], "probe_test_count": 2000}

COUNT_CASES = [
    Case("probe-test-count-beyond-cifar10-test", base(data=CIFAR, eval=CIFAR_PROBE),
         r"^eval\.probe_test_count: 2000 exceeds the 1017 test samples of cifar10; choose from: "
         r"1\.\.1017 \(run 1 of 1: cifar10-adam-"),
    Case("train-subset-beyond-cifar10-train", base(data={**CIFAR, "train_subset": 6000}),
         r"^data\.train_subset: 6000 is not within the 5085 train samples of cifar10; choose "
         r"from: 1\.\.5085 or null \(run 1 of 1: cifar10-"),
    Case("knn-count-beyond-cifar10-train-subset",
         base(data={**CIFAR, "train_subset": 300},
              eval={"metrics": ["knn"], "probe_test_count": 100, "knn_train_count": 500}),
         r"^eval\.knn_train_count: 500 exceeds the 300 train samples of cifar10; choose from: "
         r"1\.\.300 \(run 1 of 1: "),
    Case("count-beyond-the-split-in-the-second-run-only",
         tiny_grid(base={"data": CIFAR, "eval": {**CIFAR_PROBE, "probe_test_count": 1017}},
                   axes={"eval.probe_test_count": [1017, 1018]}),
         r"^eval\.probe_test_count: 1018 exceeds the 1017 test samples of cifar10; choose from: "
         r"1\.\.1017 \(run 2 of 2: cifar10-"),
    Case("recon-count-beyond-digits-test", base(eval={"recon_count": 300}),
         r"^eval\.recon_count: 300 exceeds the 297 test samples of digits; choose from: "
         r"1\.\.297 \(run 1 of 1: digits-"),
]


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
@pytest.mark.parametrize("case", COUNT_CASES, ids=[c.id for c in COUNT_CASES])
def test_a_count_beyond_the_data_is_one_line_and_creates_nothing(case, dry_run, workdir, capsys):
    shared_data("cifar10")
    argv = _argv(case, workdir) + (["--dry-run"] if dry_run else [])
    outcome = run_main(run.main, argv, capsys)
    assert_one_error_line(outcome, case.pattern, case.id)
    assert outcome.stdout == "", f"{case.id}: {outcome.stdout!r}"
    assert_nothing_created(workdir, case.id)


def test_counts_within_the_real_splits_pass_the_preflight(workdir, capsys):
    """The edges are valid: every test image probed, the whole train split subset."""
    shared_data("cifar10")
    grid = base(data={**CIFAR, "train_subset": 5085},
                eval={**CIFAR_PROBE, "probe_test_count": 1017})
    outcome = run_main(run.main, ["--grid", str(write_grid(workdir, grid)), "--dry-run",
                                  *store_args(workdir)], capsys)
    assert outcome.code == 0 and "1 runs" in outcome.stdout, outcome.stderr
    assert_nothing_created(workdir)


def test_data_not_yet_downloaded_is_left_to_its_run(workdir, capsys):
    """With `download: true` and nothing on disk the sizes are unknown until the run fetches the
    data: the preflight lets the grid through (as the availability check does)."""
    (workdir / "empty").mkdir()
    grid = base(data={**CIFAR, "data_root": str(workdir / "empty"), "download": True},
                eval=CIFAR_PROBE)
    outcome = run_main(run.main, ["--grid", str(write_grid(workdir, grid)), "--dry-run",
                                  *store_args(workdir)], capsys)
    assert outcome.code == 0 and "1 runs" in outcome.stdout, outcome.stderr
    assert list((workdir / "empty").iterdir()) == []


# --- python -m benchmark.report ------------------------------------------------------------


@pytest.fixture(scope="module")
def store_with_an_empty_experiment(tmp_path_factory) -> str:
    """A real sqlite store holding experiment 'other' with one grid run and no training runs."""
    folder = tmp_path_factory.mktemp("report_store")
    uri = f"sqlite:///{folder}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("other", artifact_location=(folder / "a").as_uri())
    client.create_run(experiment, tags={"alibench.kind": "grid"})
    return uri


REPORT_CASES = [
    ("unknown-experiment", ["--experiment", "nope"],
     r"^--experiment: no experiment 'nope' in sqlite:.*; experiments: .*other"),
    ("experiment-without-training-runs", ["--experiment", "other"],
     r"^--experiment: experiment 'other' has no training runs"),
    ("grid-missing", ["--grid", "{dir}/nowhere.yaml"], r"^--grid: no such file '.*nowhere\.yaml'"),
    ("grid-not-utf8", ["--grid", "{dir}/binary.yaml"], r"^--grid: '.*binary\.yaml' is not UTF-8"),
    ("grid-without-name", ["--grid", "{dir}/noname.yaml"], r"^--grid: '.*noname\.yaml' has no 'name'"),
    ("grid-bad-yaml", ["--grid", "{dir}/bad.yaml"], r"^--grid: '.*bad\.yaml' is not valid YAML at line"),
    ("out-under-a-file", ["--experiment", "other", "--out", "{dir}/a_file/report"],
     r"^--out: cannot write a report into '.*a_file/report'"),
    ("unknown-test", ["--experiment", "other", "--test", "ttest"],
     r"argument --test: invalid choice: 'ttest'"),
    ("both-experiment-and-grid", ["--experiment", "a", "--grid", "b.yaml"],
     r"argument --grid: not allowed with argument --experiment"),
]


@pytest.mark.parametrize(("argv", "pattern"), [c[1:] for c in REPORT_CASES],
                         ids=[c[0] for c in REPORT_CASES])
def test_report_cli_mistake_is_one_line_and_writes_nothing(argv, pattern, workdir, capsys,
                                                           store_with_an_empty_experiment):
    _prepare(workdir)
    (workdir / "binary.yaml").write_bytes(bytes(range(256)))
    (workdir / "noname.yaml").write_text("base: {}\n")
    (workdir / "bad.yaml").write_text("name: [x\n")
    args = [a.format(dir=workdir) for a in argv]
    args += ["--tracking-uri", store_with_an_empty_experiment]
    if "--out" not in args:
        args += ["--out", str(workdir / "report")]
    outcome = run_main(report.main, args, capsys)
    assert_one_error_line(outcome, pattern, argv[0])
    assert_nothing_created(workdir)


def test_report_on_a_store_that_does_not_exist_creates_none(workdir, capsys):
    outcome = run_main(report.main, ["--experiment", "x", "--tracking-uri",
                                     f"sqlite:///{workdir}/store/mlflow.db"], capsys)
    assert_one_error_line(outcome, r"^--tracking-uri: no MLflow store at .*store/mlflow\.db")
    assert_nothing_created(workdir)


def test_report_on_an_unreachable_server_is_one_line(workdir, capsys):
    outcome = run_main(report.main, ["--experiment", "x", "--tracking-uri", UNREACHABLE], capsys)
    assert_one_error_line(outcome, r"^--tracking-uri: cannot use 'http://127\.0\.0\.1:1'")
    assert_nothing_created(workdir)


# --- the real terminal: a handful of mistakes through `python -m` ------------------------------

SUBPROCESS_CASES = ["yaml-unclosed-bracket", "mnist-root-empty"]  # each imports torch: seconds


@pytest.mark.slow  # three interpreters importing torch: ~10 s on an idle 2-core machine
def test_terminal_sees_one_line_and_no_traceback(tmp_path):
    """Started together (each subprocess spends seconds importing torch), checked one by one."""
    started = {}
    for case in (c for c in CASES if c.id in SUBPROCESS_CASES):
        folder = tmp_path / case.id
        folder.mkdir()
        _prepare(folder)
        started[case.id] = (case, folder, run_cli("benchmark.run", _argv(case, folder), folder))
    folder = tmp_path / "report"
    folder.mkdir()
    reporter = run_cli("benchmark.report", ["--experiment", "x", "--tracking-uri",
                                            f"sqlite:///{folder}/store/mlflow.db"], folder)
    for case, folder, proc in started.values():
        out, err = proc.communicate(timeout=300)
        assert_one_error_line(Outcome(proc.returncode, out, err), case.pattern, case.id)
        assert_nothing_created(folder, case.id)
    out, err = reporter.communicate(timeout=300)
    assert_one_error_line(Outcome(reporter.returncode, out, err), r"^--tracking-uri: no MLflow")
    assert_nothing_created(folder)
