"""The run config: the sections composed into `RunConfig`, the checks across sections, and
what a run is called and keyed by (run key, config key, params, run name, description).

Each package owns its section (`DataConfig`, `ModelConfig`, `OptimConfig`, `SchemeConfig`,
`EvalConfig`); this module only composes them. It sits above the packages and imports them
at the top: nothing below imports it back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from benchmark.data import DATASETS, DataConfig, known_sizes
from benchmark.errors import ConfigError
from benchmark.evaluation import validate_eval_config
from benchmark.evaluation.settings import COUNT_DEFAULTS, EvalConfig, keyed_counts, resolve_counts
from benchmark.models import DEFAULT_MEMORY_FORMAT, MEMORY_FORMATS
from benchmark.models.settings import ModelConfig
from benchmark.objectives import OBJECTIVES
from benchmark.optimizers import OptimConfig, option_labels, validate_optim
from benchmark.precision import PRECISIONS
from benchmark.schemes import (
    SchemeConfig,
    check_scheme_optimizer,
    check_scheme_options,
    total_steps,
)
from benchmark.stabilizers import describe_stabilizers, parse_stabilizers
from benchmark.validation import section_values


@dataclass
class TrainConfig:
    steps: int = field(default=1000, metadata={
        "help": "generator updates in the run (unless grad_evals is set)", "min": 1})
    grad_evals: int | None = field(default=None, metadata={
        "help": "budget in gradient evaluations (forward passes of the game with their "
                "gradients) instead of steps: steps = grad_evals // evaluations per step, so "
                "schemes of different cost compare at equal compute on every machine",
        "min": 1})
    log_every: int = field(default=10, metadata={
        "help": "steps between logged losses and times", "min": 1})
    eval_every: int = field(default=500, metadata={
        "help": "steps between evaluations (also at the end)", "min": 1})
    checkpoint_every: int = field(default=500, metadata={
        "help": "steps between checkpoints (also at the end); a resume starts from the last",
        "min": 1})
    collapse_patience: int = field(default=3, metadata={
        "help": "logged steps the collapse rule averages D's accuracy over: collapsed when its "
                "mean over them is at least 95% on each pair kind", "min": 1})
    objective: str = field(default="ali", metadata={
        "help": "ali: the adversarial game; autoencoder: the same encoder and decoder on the "
                "stabilizers' reconstruction terms alone (cycle_consistency), no discriminator",
        "choices": OBJECTIVES.names, "in_key": "unless_default"})
    # How the update computes (docs/gpu.md): each at its default leaves the run key as it was.
    precision: str = field(default="fp32", metadata={
        "help": "fp32: float32, no TF32; tf32: CUDA matmuls and convolutions on TF32 tensor "
                "cores; bf16: the update's forward passes under bfloat16 autocast (float32 "
                "weights and optimizer); evaluation is float32 in every case",
        "choices": PRECISIONS.names, "in_key": "unless_default"})
    memory_format: str = field(default=DEFAULT_MEMORY_FORMAT, metadata={
        "help": "layout of the conv networks' weights (activations follow): channels_last "
                "(NHWC) or contiguous (NCHW)",
        "choices": MEMORY_FORMATS.names, "in_key": "unless_default"})
    cudnn_benchmark: bool = field(default=False, metadata={
        "help": "let cuDNN time its convolution algorithms and keep the fastest: faster on "
                "CUDA, but the choice can differ from process to process, so runs (and resumes) "
                "are no longer bitwise reproducible; no effect on the CPU",
        "in_key": "unless_default"})
    compile: bool = field(default=False, metadata={
        "help": "torch.compile the encoder, decoder and discriminator (compiles once per "
                "process; not with gradient_penalty, whose double backward it cannot take)",
        "in_key": "unless_default"})


@dataclass
class RunConfig:
    seed: int = field(default=0, metadata={"help": "seeds torch, numpy, random and the data",
                                           "min": 0})
    device: str = field(default="auto", metadata={
        "help": "auto uses CUDA when present", "choices": ["auto", "cpu", "cuda"]})
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    scheme: SchemeConfig = field(default_factory=SchemeConfig)
    stabilizers: list[dict] = field(default_factory=list, metadata={
        "help": "stabilizers applied in order, each {name: ..., option: value}"})
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    label: str = field(default="", metadata={
        "help": "words appended to the run's name; a grid adds the fields that vary within it "
                "and the rest of the name does not show", "in_key": False})

    def __post_init__(self) -> None:
        # Held canonical, so the run key, the params and the run name see one form of each.
        if self.stabilizers:
            self.stabilizers = canonical_stabilizers(self.stabilizers)


def canonical_stabilizers(raw: list[dict]) -> list[dict]:
    """Each stabilizer as `{name, every option}`: validated, defaults filled in, numbers of the
    option's type. `{name: instance_noise}` and the same entry with its defaults written out (or
    `1` for `1.0`) are then one config with one run key, as every other section already is."""
    return [{"name": s.name, **dataclasses.asdict(s.options)} for s in parse_stabilizers(raw)]


def validate_run(cfg: RunConfig) -> None:
    """Checks that span sections: scheme/optimizer pairs, optimizer options, stabilizers, the
    step budget, metrics for the data."""
    check_scheme_optimizer(cfg.scheme.name, cfg.optim.name)
    check_scheme_options(cfg.scheme)
    validate_optim(cfg.optim, cfg.scheme.name)
    OBJECTIVES.get(cfg.train.objective, field="train.objective").check(
        parse_stabilizers(cfg.stabilizers), cfg.scheme.written_options()["d_steps"])
    total_steps(cfg)
    if cfg.train.compile:
        twice = [s.name for s in parse_stabilizers(cfg.stabilizers) if s.double_backward]
        if twice:
            raise ConfigError(f"train.compile: true does not fit stabilizer {twice[0]!r} (it "
                              f"differentiates twice, which torch.compile cannot); choose from: "
                              f"false, or drop {twice[0]}")
    source = DATASETS.get(cfg.data.dataset)
    validate_eval_config(cfg.eval, source, source.labelled)


def resolved(cfg: RunConfig, sizes_cache: dict | None = None) -> RunConfig:
    """`cfg` with its eval counts left out resolved against the split sizes its run gets
    (`data.known_sizes`): what its params and run key hold. Idempotent."""
    if all(getattr(cfg.eval, f.name) is not None for f in dataclasses.fields(cfg.eval)
           if f.name in COUNT_DEFAULTS):
        return cfg
    counts = resolve_counts(cfg.eval, known_sizes(cfg.data, sizes_cache))
    return dataclasses.replace(cfg, eval=counts)


def _key_fields(obj: Any) -> dict:
    """The config as a plain dict without the fields that cannot change the numbers, nor those
    added later (`in_key: unless_default`) at their default, so the runs before them keep their
    keys; an optimizer's options sit in its section, as they are written."""
    dropped = {f.name for f in dataclasses.fields(obj) if not f.metadata.get("in_key", True)
               or (f.metadata.get("in_key") == "unless_default" and getattr(obj, f.name) == f.default)}
    return {name: _key_fields(value) if dataclasses.is_dataclass(value) else value
            for name, value in section_values(obj).items() if name not in dropped}


def _digest(payload: dict) -> str:
    text = json.dumps(payload, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _key_payload(cfg: RunConfig) -> dict:
    payload = _key_fields(cfg)
    payload["eval"] = keyed_counts(cfg.eval, payload["eval"])
    return payload


def run_key(cfg: RunConfig) -> str:
    """A hash of the resolved config: finds the MLflow run to resume or to skip."""
    return _digest(_key_payload(cfg))


def config_key(cfg: RunConfig) -> str:
    """The run key without the seed: runs that differ only by seed are one config."""
    payload = _key_payload(cfg)
    payload.pop("seed")
    return _digest(payload)


def non_default_options(stabilizers: list[dict]) -> list[dict]:
    """Canonical stabilizers with only the options that differ from their defaults: what the
    `stabilizers` param shows (`instance_noise(anneal_steps=300)`), the same for every spelling."""
    shown = []
    for entry in stabilizers:
        defaults = canonical_stabilizers([{"name": entry["name"]}])[0]
        shown.append({k: v for k, v in entry.items() if k == "name" or v != defaults[k]})
    return shown


def flat_params(cfg: Any, prefix: str = "") -> dict[str, str]:
    """Every config field as a flat `section.field` param, stabilizers as one readable string."""
    params: dict[str, str] = {}
    for name, value in section_values(cfg).items():
        key = prefix + name
        if dataclasses.is_dataclass(value):
            params.update(flat_params(value, key + "."))
        elif key == "stabilizers":
            params[key] = describe_stabilizers(non_default_options(value))
        elif isinstance(value, (list, tuple, dict)):
            params[key] = json.dumps(value)
        else:
            params[key] = str(value)
    return params


def run_name(cfg: RunConfig) -> str:
    """Readable and distinct per run in the MLflow UI: the config's name and the seed."""
    return f"{config_name(cfg)}-s{cfg.seed}"


def config_name(cfg: RunConfig) -> str:
    """Readable, and shared by the seeds of one config (so MLflow's "Group by" on it draws each
    config's mean and band): dataset, optimizer, scheme, the stabilizers with their non-default
    options (as the `stabilizers` param shows them), and the options that only some optimizers
    and schemes have, when they are not defaults (each as its declaration's `label` shows it:
    `d5` for five discriminator steps). Model and training fields are not in it: a
    grid that varies them is told apart by its params."""
    tricks = describe_stabilizers(non_default_options(cfg.stabilizers))
    variants = [] if cfg.train.objective == "ali" else [cfg.train.objective]
    variants += cfg.scheme.labels()  # each option as its declaration's `label` shows it
    # Optimizer flags, then averaging and lookahead, then valued options: the order names have
    # always had, so a config keeps its name (the UI's grouping) across versions.
    flags, valued = option_labels(cfg.optim, flags=True), option_labels(cfg.optim, flags=False)
    variants += flags
    if cfg.optim.averaging:
        variants.append("avg_" + "+".join(cfg.optim.averaging))
    if cfg.optim.lookahead_k:
        variants.append(f"la{cfg.optim.lookahead_k}_{cfg.optim.lookahead_alpha:g}")
    variants += valued
    label = [cfg.label] if cfg.label else []
    return "-".join([cfg.data.dataset, cfg.optim.name, cfg.scheme.name, *variants, tricks,
                     f"lr{cfg.optim.lr_g:g}_{cfg.optim.lr_d:g}", *label])


def _flat(payload: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in payload.items():
        if isinstance(value, dict) and name != "stabilizers":
            out.update(_flat(value, f"{prefix}{name}."))
        else:
            out[prefix + name] = value
    return out


def _compact(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "+".join(_compact(v) for v in value) or "none"
    return str(value)


def label_varying(runs: list[RunConfig]) -> list[RunConfig]:
    """The runs, each labelled with the fields that vary within them and that the rest of its
    name does not already tell apart (`steps=20-dropout=0.2`), so two configs never share a name
    (MLflow's "Group by" would average them into one band). A field the name already carries
    (the optimizer, the learning rates) stays out; the seed is not a config field."""
    values = [{k: v for k, v in _flat(_key_payload(cfg)).items() if k != "seed"} for cfg in runs]
    names = [config_name(cfg) for cfg in runs]
    fields = list(dict.fromkeys(k for v in values for k in v))  # sections in config order
    shown = []
    for name in fields:
        by_name: dict[str, set[str]] = {}
        for base, v in zip(names, values, strict=True):
            by_name.setdefault(base, set()).add(json.dumps(v.get(name), sort_keys=True))
        if any(len(seen) > 1 for seen in by_name.values()):
            shown.append(name)
    if not shown:
        return runs
    short = [name.rsplit(".", 1)[-1] for name in shown]
    tags = [s if short.count(s) == 1 else full for s, full in zip(short, shown, strict=True)]
    out = []
    for cfg, v in zip(runs, values, strict=True):
        label = "-".join(f"{t}={_compact(v.get(name))}" for t, name in zip(tags, shown,
                                                                           strict=True))
        out.append(dataclasses.replace(cfg, label="-".join(filter(None, [cfg.label, label]))))
    return out


def describe_config(cfg: RunConfig) -> str:
    """The config in one line, for the run's description in the MLflow UI."""
    d, m, o, s, t = cfg.data, cfg.model, cfg.optim, cfg.scheme, cfg.train
    subset = "" if d.train_subset is None else f", {d.train_subset} train samples"
    taken = ", ".join(option_labels(o))
    optimizer = f"{o.name} (lr_g {o.lr_g:g}, lr_d {o.lr_d:g}{', ' + taken if taken else ''}"
    optimizer += f", averaging {'+'.join(o.averaging)})" if o.averaging else ")"
    scheme = s.name + (f" ({', '.join(s.described())})" if s.described() else "")
    budget = f"{t.steps} steps" if t.grad_evals is None else f"{t.grad_evals} gradient evaluations"
    if t.objective != "ali":
        budget += f"; objective {t.objective}"
    return (f"{d.dataset} {d.image_size}px{subset}, batch {d.batch_size}; z_dim {m.z_dim}, "
            f"width {m.width:g}; {optimizer}; {scheme}; stabilizers "
            f"{describe_stabilizers(non_default_options(cfg.stabilizers))}; {budget}; "
            f"seed {cfg.seed}")


