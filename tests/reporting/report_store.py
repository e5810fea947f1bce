"""Log a small experiment into a real MLflow store (sqlite + artifact folder) for the tests.

Three configs: A (adam) and B (extra_adam + instance noise) with seeds 0-2, B with a fourth
seed that diverged, and C (sgd, other lr, other FID sample count) with one seed. Every value
logged is kept in `Logged.values` so tests can recompute the expected numbers on their own.
Each run logs its baselines at step 0, as training does; they are chosen so that B beats the
mean-image baseline and A and C do not, B's averaged-params recon_mse does not, A does not beat
its random-encoder knn_acc, C (another random encoder) not its probe_acc, and only B beats the
pixel-Gaussian FID; C alone does not beat its untrained model (UNTRAINED).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
from mlflow.entities import Metric, Param, RunTag
from PIL import Image

EXPERIMENT = "repro"
STEPS = range(0, 101, 10)  # losses and times
EVAL_STEPS = (0, 50, 100)  # recon_mse, fid
MEAN_IMAGE_MSE = 0.045  # recon_mse_mean_image: below A's and C's recon_mse, above B's
CLASSIFIER_ACC = 0.95  # classifier_test_acc: recon_acc's ceiling, never flagged
GAUSSIAN_FID = 4.0  # gaussian_fid_classifier: above B's FID (about 3), below A's and C's
# The untrained networks, scored like the trained ones (untrained_<key>, step 0): A and B beat
# them on recon_mse and FID, C (recon about 0.085, FID about 8) does not; every probe beats 0.1.
UNTRAINED = {"untrained_recon_mse": 0.07, "untrained_fid_classifier": 6.0,
             "untrained_probe_acc": 0.1}


@dataclass(frozen=True)
class Spec:
    config: str
    seed: int
    optim: str
    stabilizers: str
    lr_g: str = "0.0002"
    fid_gen: str = "1000"
    outcome: str = "finished"
    collapsed: bool = False
    panels: tuple[str, ...] = ("generation", "reconstruction", "interpolation")
    half_written: tuple[str, ...] = ()  # panels cut short, as by a run killed while logging


SPECS = (
    *(Spec("A", s, "adam", "none", collapsed=s == 2) for s in (0, 1, 2)),
    *(Spec("B", s, "extra_adam", "instance_noise(std=0.1)") for s in (0, 1, 2)),
    Spec("B", 3, "extra_adam", "instance_noise(std=0.1)", outcome="diverged"),
    Spec("C", 0, "sgd", "none", lr_g="0.0005", fid_gen="500",
         panels=("generation", "reconstruction")),
)


@dataclass
class Logged:
    """What was logged: per run name, the spec and the metric histories {key: [(step, v)]}."""

    uri: str
    root: Path
    specs: dict[str, Spec] = field(default_factory=dict)
    values: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)

    def finals(self, config: str, key: str, counted_only: bool = True) -> list[float]:
        """The last logged value of `key` of each run of `config` (finished runs only)."""
        out = []
        for name, spec in self.specs.items():
            if spec.config != config or (counted_only and spec.outcome != "finished"):
                continue
            if key in self.values[name]:
                out.append(self.values[name][key][-1][1])
        return out


PRDC_KEYS = ("precision_classifier_k3", "recall_classifier_k3")
PRDC_HELDOUT = 0.75


def _histories(spec: Spec, rng: np.random.Generator) -> dict[str, list[tuple[int, float]]]:
    level = {"A": 0.05, "B": 0.03, "C": 0.08}[spec.config]
    last = 40 if spec.outcome == "diverged" else 100
    steps = [s for s in STEPS if s <= last]
    evals = [s for s in EVAL_STEPS if s <= last]
    cpu = np.cumsum(rng.uniform(0.5, 1.5, len(steps)))
    hist = {
        "loss_d": [(s, float(1.4 - s / 200 + rng.normal(0, 0.05))) for s in steps],
        "loss_g": [(s, float(0.7 + s / 200 + rng.normal(0, 0.05))) for s in steps],
        "cpu_time_s": [(s, float(c)) for s, c in zip(steps, cpu, strict=True)],
        "wall_time_s": [(s, float(c * 1.1)) for s, c in zip(steps, cpu, strict=True)],
        "grad_evals": [(s, float(2 * s)) for s in steps],  # 2 per step: alternating
        # recon dips at step 50 so the best value differs from the final one
        "recon_mse": [(s, float(level * (1.0 if s != 50 else 0.8) + rng.uniform(0, 0.01)))
                      for s in evals],
    }
    hist["recon_mse_mean_image"] = [(0, MEAN_IMAGE_MSE)]
    hist["probe_acc_random"] = [(0, {"C": 0.9}.get(spec.config, 0.70 + 0.01 * spec.seed))]
    hist["knn_acc_random"] = [(0, 0.88)]
    hist["classifier_test_acc"] = [(0, CLASSIFIER_ACC)]
    hist["gaussian_fid_classifier"] = [(0, GAUSSIAN_FID)]
    hist.update({key: [(0, value)] for key, value in UNTRAINED.items()})
    if spec.outcome == "diverged":
        hist["loss_d"][-1] = (last, float("nan"))
        return hist
    hist["fid_classifier"] = [(s, float(100 * level + rng.normal(0, 0.5))) for s in evals[1:]]
    modes = {"A": 13.0, "B": 24.0, "C": 10.0}[spec.config]
    hist["modes_covered"] = [(100, float(modes + rng.integers(-1, 2)))]
    hist["probe_acc"] = [(100, float(0.8 + rng.uniform(-0.05, 0.05)))]
    knn = {"A": 0.84, "B": 0.93, "C": 0.9}[spec.config]
    hist["knn_acc"] = [(100, float(knn + rng.uniform(-0.01, 0.01)))]
    hist["recon_acc"] = [(100, float(0.6 + rng.uniform(-0.05, 0.05)))]
    for key in PRDC_KEYS:  # prdc: logged with its held-out ceiling at every evaluation
        hist[key] = [(100, float(0.5 + rng.uniform(-0.05, 0.05)))]
        hist[f"{key}_heldout"] = [(100, PRDC_HELDOUT)]
    if spec.config == "B":
        hist["avg_ema.recon_mse"] = [(100, float(0.06 + rng.uniform(0, 0.01)))]
    return hist


def _png(path: Path, colour: tuple[int, int, int], half: bool = False) -> Path:
    Image.new("RGB", (24, 16), colour).save(path)
    if half:
        path.write_bytes(path.read_bytes()[:40])  # the PNG header and part of a chunk
    return path


# The comparison design as the runner records it on every run (reporting.design.Design.tags):
# config A is the reference.
DESIGN_TAGS = {"alibench.reference_config": "ck-A", "alibench.compare": "reference"}


def log_experiment(root: Path, name: str = EXPERIMENT, specs: tuple[Spec, ...] = SPECS,
                   seed: int = 7, design_tags: dict[str, str] | None = None,
                   histories=None) -> Logged:
    """Log the specs' runs into a fresh sqlite store under `root` through MlflowClient;
    `histories(spec, rng)` replaces the default metric histories."""
    design_tags = DESIGN_TAGS if design_tags is None else design_tags
    root.mkdir(parents=True, exist_ok=True)
    logged = Logged(uri=f"sqlite:///{root}/mlflow.db", root=root)
    client = mlflow.MlflowClient(tracking_uri=logged.uri)
    exp = client.create_experiment(name, artifact_location=str(root / "artifacts"))
    parent = client.create_run(exp, run_name="grid-repro", tags={"alibench.kind": "grid"})
    rng = np.random.default_rng(seed)
    for i, spec in enumerate(specs):
        run_name = f"{spec.config}-s{spec.seed}"
        tags = {"alibench.kind": "run", "run_key": f"rk-{run_name}",
                "config_key": f"ck-{spec.config}", "outcome": spec.outcome,
                "mlflow.parentRunId": parent.info.run_id, **design_tags}
        if spec.collapsed:
            tags["collapsed"] = "true"
        run = client.create_run(exp, run_name=run_name, tags=tags)
        params = {"seed": str(spec.seed), "data.dataset": "mnist", "data.image_size": "28",
                  "optim.name": spec.optim, "scheme.name": "alternating",
                  "optim.lr_g": spec.lr_g, "optim.lr_d": "0.0001",
                  "stabilizers": spec.stabilizers, "eval.fid_extractor": "classifier",
                  "eval.fid_gen_count": spec.fid_gen, "eval.fid_real_count": "1000",
                  "train.checkpoint_dir": f"runs/checkpoints/rk-{run_name}"}
        hist = (histories or _histories)(spec, rng)
        metrics = [Metric(k, v, 1000 + s, s) for k, points in hist.items() for s, v in points]
        client.log_batch(run.info.run_id, metrics=metrics,
                         params=[Param(k, v) for k, v in params.items()],
                         tags=[RunTag("diverged_step", "40")] if spec.outcome == "diverged"
                         else [])
        colour = (40 * i, 255 - 30 * i, 120)
        for kind in spec.panels:
            _png(root / f"{kind}.png", colour, half=kind in spec.half_written)
            client.log_artifact(run.info.run_id, str(root / f"{kind}.png"), "panels")
        if spec.panels:
            client.log_artifact(run.info.run_id, str(root / "generation.png"),
                                "panels/step_0000050")
        if spec.outcome != "running":
            client.set_terminated(run.info.run_id)
        logged.specs[run_name] = spec
        logged.values[run_name] = hist
    client.set_terminated(parent.info.run_id)
    return logged


GRID_YAML = """\
name: repro
description: a grid file as the run CLI reads it; the report takes name and references only
base: {data: {dataset: mnist}}
references:
  - metric: modes_covered
    mean: 13.4
    std: 5.8
    source: Dumoulin et al. 2016
    settings: 25-Gaussian mixture
    where: {optim.name: adam}
  - metric: modes_covered
    mean: 13.4
    std: 5.8
    source: Dumoulin et al. 2016
    settings: 25-Gaussian mixture
    where: {optim.name: extra_adam}
  - metric: high_quality_frac
    mean: 0.9
    source: nobody
    settings: not measured here
"""
