"""Options of the evaluation (which metrics, on how many fixed inputs, with which extractor),
and the checks that refuse impossible ones before a run starts, each with one line naming the fix.

Sample counts are part of the run key: FID from different sample sizes is never comparable.
A count left out is `None` until the run's split sizes are known; then it takes
min(default, split size) (`resolve_counts`), so the defaults fit every dataset and the resolved
value is what the params and the run key hold. A count written out is taken as written and
refused when its split is smaller (`check_counts`).

No torch here: a grid is checked, and `--help` written, before torch is loaded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sized
from dataclasses import dataclass, field
from typing import Any

from benchmark.errors import ConfigError
from benchmark.evaluation.declarations import COUNT_SPLITS, METRICS, uses_fid_features
from benchmark.evaluation.extractors import FEATURE_EXTRACTORS


@dataclass(frozen=True)
class CountDefault:
    """What a count left out becomes: `value`, cut to its split's size (`COUNT_SPLITS`).

    `unread` is its value in the run key of a run none of whose metrics reads it: such a count
    cannot change the numbers, and keying it at the default it had before counts were resolved
    keeps the keys (and so the resumes) of grids made then."""

    value: int
    unread: int


# FID and KID are biased at small n (FID upwards, shrinking roughly as 1/n), so they default to
# 5,000 generated against 5,000 real images, or the whole test split where that is smaller.
COUNT_DEFAULTS = {
    "recon_count": CountDefault(500, unread=500),
    "probe_test_count": CountDefault(2000, unread=2000),
    "knn_train_count": CountDefault(2000, unread=2000),
    "fid_gen_count": CountDefault(5000, unread=1000),
    "fid_real_count": CountDefault(5000, unread=1000),
    "kid_subset_size": CountDefault(100, unread=100),  # and at most both FID sample counts
}


def count_field(name: str, text: str, least: int) -> Any:
    """A count field: None until resolved, its help saying what it resolves to."""
    default, split = COUNT_DEFAULTS[name].value, COUNT_SPLITS.get(name)
    where = f"min({default}, the {split} split)" if split else str(default)
    if name == "kid_subset_size":
        where = f"min({default}, both FID sample counts)"
    return field(default=None, metadata={"help": f"{text} (left out: {where})", "min": least})


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
    recon_count: int | None = count_field(
        "recon_count", "fixed held-out test inputs for recon_mse and recon_acc", least=1)
    fid_extractor: str = field(
        default="classifier",
        metadata={"help": "features for FID/KID/IS: the dataset's own classifier (offline) or "
                          "Inception-v3", "choices": FEATURE_EXTRACTORS.names})
    fid_gen_count: int | None = count_field(
        "fid_gen_count", "generated images (from fixed latents) for FID/KID/IS (IS averages 10 "
        "splits)", least=10)
    fid_real_count: int | None = count_field(
        "fid_real_count", "fixed real test images for FID/KID", least=2)
    kid_subset_size: int | None = count_field(
        "kid_subset_size", "KID subset size; at most both FID sample counts", least=2)
    weights_path: str | None = field(
        default=None, metadata={"help": "Inception-v3 weights file for fid_extractor "
                                        "inception-v3-compat (None: torch hub cache)",
                                "in_key": False})
    probe_per_class: int = field(
        default=10, metadata={"help": "labelled training images per class for the linear probe",
                              "min": 1})
    probe_draws: int = field(
        default=3, metadata={"help": "label draws the probe accuracy is averaged over", "min": 1})
    probe_test_count: int | None = count_field(
        "probe_test_count", "fixed test images the probe and 1-NN are scored on", least=1)
    knn_train_count: int | None = count_field(
        "knn_train_count", "fixed training encodings the 1-NN classifier searches", least=1)
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
    if isinstance(getattr(data, "train", None), Sized) and isinstance(data.test, Sized):
        cfg = resolve_counts(cfg, {"train": len(data.train), "test": len(data.test)})
    else:  # a source: sizes unknown here, so counts left out are checked at their defaults
        cfg = resolve_counts(cfg, {})
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


def resolve_counts(cfg: EvalConfig, sizes: Mapping[str, int]) -> EvalConfig:
    """`cfg` with every count left out resolved: min(default, the size of its split), the
    generated counts at their defaults, KID's subsets at most both FID counts. `sizes` maps
    split -> samples a run gets; a split missing from it (data fetched later, of the canonical
    size) leaves the default uncut. Counts written out are kept, to be checked, not cut."""
    values = {}
    for name, default in COUNT_DEFAULTS.items():
        if getattr(cfg, name) is None and name != "kid_subset_size":
            size = sizes.get(COUNT_SPLITS.get(name) or "")
            values[name] = default.value if size is None else min(default.value, size)
    resolved = dataclasses.replace(cfg, **values)
    if resolved.kid_subset_size is None:
        resolved.kid_subset_size = min(COUNT_DEFAULTS["kid_subset_size"].value,
                                       resolved.fid_gen_count, resolved.fid_real_count)
    return resolved


def keyed_counts(cfg: EvalConfig, fields: dict[str, Any]) -> dict[str, Any]:
    """The eval section's key fields with each count no configured metric reads at its
    `CountDefault.unread` value (see there)."""
    read = {count for name in cfg.metrics if name in METRICS for count in METRICS[name].counts}
    return {name: COUNT_DEFAULTS[name].unread
            if name in COUNT_DEFAULTS and name not in read else value
            for name, value in fields.items()}


def check_counts(cfg: EvalConfig, sizes: Mapping[str, int],
                 dataset: str = "this dataset") -> None:
    """A configured metric must find all the inputs it asks for (`Metric.counts`) in its split.

    `sizes`: the samples a run gets in each split (`split_sizes`, or a loaded bundle's), so the
    grid's preflight checks every run before anything is created, and the Evaluator again."""
    used = {field for name in cfg.metrics if name in METRICS for field in METRICS[name].counts}
    for name in sorted(used):
        split, value = COUNT_SPLITS[name], getattr(cfg, name)
        if split is not None and value is not None and value > sizes[split]:
            raise ConfigError(f"eval.{name}: {value} exceeds the {sizes[split]} {split} samples "
                              f"of {dataset}; choose from: 1..{sizes[split]}")
