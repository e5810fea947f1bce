"""Options of the evaluation (which metrics, on how many fixed inputs, with which extractor),
and the checks that refuse impossible ones before a run starts, each with one line naming the fix.

Sample counts are part of the run key: FID from different sample sizes is never comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmark.errors import ConfigError
from benchmark.evaluation.fidelity import FEATURE_EXTRACTORS
from benchmark.evaluation.registry import METRICS, uses_fid_features


@dataclass
class EvalConfig:
    metrics: list[str] = field(
        default_factory=lambda: ["recon_mse"],
        metadata={"help": "metrics computed at every evaluation", "choices": METRICS.names})
    batch_size: int = field(
        default=500, metadata={"help": "inputs per forward pass during evaluation (memory only)",
                               "min": 1, "in_key": False})
    bn_stats: str = field(
        default="recomputed",
        metadata={"help": "BatchNorm statistics the scored networks use: recomputed for each use "
                          "(encoder: training images; decoder: prior draws for samples, the "
                          "encoder's codes for reconstructions), or the running ones training "
                          "left (a blend of both decoder inputs)",
                  "choices": ["recomputed", "running"]})
    bn_batches: int = field(
        default=10, metadata={"help": "training batches that recompute the BatchNorm statistics "
                                      "(live networks under bn_stats recomputed, and averages)",
                              "min": 1})
    recon_count: int = field(
        default=500, metadata={"help": "fixed held-out test inputs for recon_mse and recon_acc",
                               "min": 1})
    fid_extractor: str = field(
        default="classifier",
        metadata={"help": "features for FID/KID/IS: the dataset's own classifier (offline) or "
                          "Inception-v3", "choices": FEATURE_EXTRACTORS.names})
    fid_gen_count: int = field(
        default=1000, metadata={"help": "generated images (from fixed latents) for FID/KID/IS "
                                        "(IS averages 10 splits)", "min": 10})
    fid_real_count: int = field(
        default=1000, metadata={"help": "fixed real test images for FID/KID", "min": 2})
    kid_subset_size: int = field(
        default=100, metadata={"help": "KID subset size; at most both FID sample counts",
                               "min": 2})
    weights_path: str | None = field(
        default=None, metadata={"help": "Inception-v3 weights file for fid_extractor "
                                        "inception-v3-compat (None: torch hub cache)",
                                "in_key": False})
    probe_per_class: int = field(
        default=10, metadata={"help": "labelled training images per class for the linear probe",
                              "min": 1})
    probe_draws: int = field(
        default=3, metadata={"help": "label draws the probe accuracy is averaged over", "min": 1})
    probe_test_count: int = field(
        default=2000, metadata={"help": "fixed test images the probe and 1-NN are scored on",
                                "min": 1})
    knn_train_count: int = field(
        default=2000, metadata={"help": "fixed training encodings the 1-NN classifier searches",
                                "min": 1})
    panel_count: int = field(
        default=10, metadata={"help": "images per panel row (and rows of the interpolations)",
                              "min": 1, "max": 64})
    interpolation_steps: int = field(
        default=8, metadata={"help": "decoded points between (and including) z1 and z2",
                             "min": 2, "max": 64})
    panel_steps: list[int] = field(
        default_factory=list,
        metadata={"help": "extra training steps at which panels are logged", "min": 1,
                  "in_key": False})
    classifier_epochs: int = field(
        default=2, metadata={"help": "epochs of the FID classifier on the training split",
                             "min": 1, "max": 100})
    classifier_min_updates: int = field(
        default=1200, metadata={"help": "updates the FID classifier trains at least, in more "
                                        "epochs where classifier_epochs give fewer (MNIST's 2 "
                                        "epochs: 1,200; the 1,500 digits: 80 epochs)",
                                "min": 1, "in_key": "unless_default"})
    classifier_train_count: int | None = field(
        default=None, metadata={"help": "training images for the FID classifier (None: all)",
                                "min": 100})
    modes_min_count: int = field(
        default=20, metadata={"help": "samples within 3 std of a centre for a mode to count "
                                      "as covered", "min": 1})
    mode_sample_count: int = field(
        default=2500, metadata={"help": "samples decoded from fixed latents for modes_covered",
                                "min": 1})
    cache_dir: str = field(
        default="runs/cache", metadata={"help": "where classifiers and baselines are cached",
                                        "in_key": False})


def validate_eval_config(cfg: EvalConfig, data: Any, labelled: bool = True) -> None:
    """Metric names, metric against the data (its kind, its labels, its declared modes), the
    extractor against the labels, and each metric's own `check`.

    `data` is a dataset source or a loaded `DataBundle`: its `kind`, and its `modes` if it
    declares them. `labelled` is False for data without classes (CelebA).
    """
    for name in cfg.metrics:
        METRICS.get(name)
    if len(set(cfg.metrics)) != len(cfg.metrics):
        raise ConfigError(f"eval.metrics: {cfg.metrics!r} names a metric twice")
    has_modes = getattr(data, "modes", None) is not None

    def refusal(metric: Any) -> str | None:
        if data.kind not in metric.kinds:
            return f"does not apply to {data.kind} data"
        if metric.needs_labels and not labelled:
            return "needs class labels, which this dataset lacks"
        if metric.needs_modes and not has_modes:
            return "needs the modes (centres and spread) of the data, which its source does " \
                   "not declare"
        return None

    valid = [n for n, m in METRICS.items() if refusal(m) is None]
    for name in cfg.metrics:
        why = refusal(METRICS[name])
        if why is not None:
            raise ConfigError(f"eval.metrics: {name!r} {why}; choose from: {', '.join(valid)}")
    if uses_fid_features(cfg.metrics):
        extractor = FEATURE_EXTRACTORS.get(cfg.fid_extractor)
        if not labelled and extractor.needs_labels:
            free = [n for n, e in FEATURE_EXTRACTORS.items() if not e.needs_labels]
            raise ConfigError(f"eval.fid_extractor: {cfg.fid_extractor!r} is trained on class "
                              f"labels, which this dataset lacks; choose from: {', '.join(free)}")
    for name in cfg.metrics:
        if METRICS[name].check is not None:
            METRICS[name].check(cfg)
