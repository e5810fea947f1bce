"""Typed, validated run and grid configs: YAML loading, grid expansion and the run key.

One defaults table: the section dataclasses below (and the ones each package owns) hold every
option with its default, its help line and its bounds. The grid loader, the docs and `--help`
all read them; an unknown key, a wrong type or an out-of-range value is a `ConfigError` naming
the field, the value and what would be valid.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.data.settings import DataConfig
from benchmark.errors import ConfigError
from benchmark.evaluation.settings import EvalConfig
from benchmark.grid_yaml import GridLoader, SpelledFloat
from benchmark.models.settings import ModelConfig


def _optimizer_names() -> list[str]:
    from optim import OPTIMIZERS

    return sorted(OPTIMIZERS)


def _scheme_names() -> list[str]:
    from benchmark.schemes import SCHEMES

    return sorted(SCHEMES)


def _average_kinds() -> list[str]:
    from optim import AVERAGE_KINDS

    return list(AVERAGE_KINDS)


@dataclass
class OptimConfig:
    name: str = field(default="adam", metadata={
        "help": "optimizer of both players", "choices": _optimizer_names})
    lr_g: float = field(default=2e-4, metadata={
        "help": "step size of the encoder and decoder (seed report Table 1: 2e-4)", "gt": 0.0})
    lr_d: float = field(default=1e-4, metadata={
        "help": "step size of the discriminator (Table 1: 1e-5 MNIST, 1e-4 SVHN/CelebA)",
        "gt": 0.0})
    beta1: float = field(default=0.5, metadata={
        "help": "Adam's first moment decay", "min": 0.0, "max": 0.999999})
    beta2: float = field(default=0.999, metadata={
        "help": "Adam's second moment decay (the paper's 'beta2 = 1e-3' is 1 - 0.999)",
        "min": 0.0, "max": 0.999999})
    momentum: float = field(default=0.0, metadata={
        "help": "momentum of sgd, extra_sgd and past_extra_sgd; negative (Gidel et al. 2019) "
                "only for sgd under the alternating scheme", "min": -0.999999, "max": 0.999999})
    moments_on_extrapolation: bool = field(default=True, metadata={
        "help": "extragradient optimizers: whether moments (Adam) or momentum (SGD) also "
                "advance on the extrapolation; published code does both"})
    averaging: list[str] = field(default_factory=list, metadata={
        "help": "averages of the encoder and decoder parameters also scored, e.g. [uniform, ema]",
        "choices": _average_kinds})
    ema_decay: float = field(default=0.999, metadata={
        "help": "decay of the ema average", "min": 0.0, "max": 0.999999})
    average_bn_batches: int = field(default=10, metadata={
        "help": "training batches that recompute an average's BatchNorm statistics", "min": 1})
    lookahead_k: int = field(default=0, metadata={
        "help": "lookahead-minmax (Chavdarova et al. 2021): pull both players toward their slow "
                "weights every k steps (0: off)", "min": 0, "max": 1_000_000})
    lookahead_alpha: float = field(default=0.5, metadata={
        "help": "lookahead-minmax: slow <- slow + alpha (fast - slow) at each pull",
        "gt": 0.0, "max": 1.0})


@dataclass
class SchemeConfig:
    name: str = field(default="alternating", metadata={
        "help": "the order of both players' gradient work per step", "choices": _scheme_names})
    d_steps: int = field(default=1, metadata={
        "help": "alternating: discriminator updates per generator update", "min": 1, "max": 100})
    resample: bool = field(default=True, metadata={
        "help": "extragradient: fresh minibatch, prior and encoder noise for the update step"})


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
        "help": "logged steps in a row with D accuracy > 99% on both pair kinds: tag collapsed",
        "min": 1})


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

    def __post_init__(self) -> None:
        # Held canonical, so the run key, the params and the run name see one form of each.
        if self.stabilizers:
            self.stabilizers = canonical_stabilizers(self.stabilizers)


def canonical_stabilizers(raw: list[dict]) -> list[dict]:
    """Each stabilizer as `{name, every option}`: validated, defaults filled in, numbers of the
    option's type. `{name: instance_noise}` and the same entry with its defaults written out (or
    `1` for `1.0`) are then one config with one run key, as every other section already is."""
    from benchmark.stabilizers import parse_stabilizers

    return [{"name": s.name, **dataclasses.asdict(s.options)} for s in parse_stabilizers(raw)]


# ---------------------------------------------------------------------------------------------
# Generic validation from type hints and field metadata.


def _key_text(key: Any) -> str:
    """A key as it goes into a one-line message: quoted when it holds newlines or controls."""
    text = str(key)
    return text if text.isprintable() else repr(text)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check_value(path: str, value: Any, tp: Any, meta: dict) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _check_value(path, value, inner, meta)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        return [_check_value(f"{path}[{i}]", v, args[0], meta) for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{path}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_check_value(f"{path}[{i}]", v, a, meta) for i, (v, a) in
                     enumerate(zip(value, args, strict=True)))
    if tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = float(value)  # 1 -> 1.0, and a SpelledFloat -> a plain float
    if tp is str and isinstance(value, SpelledFloat):
        value = value.text  # a path or a name that YAML 1.1 kept a string: as written
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{path}: expected true or false, got {value!r}")
    if tp in (int, float) and (isinstance(value, bool) or not isinstance(value, tp)):
        raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
    if tp is str and not isinstance(value, str):
        raise ConfigError(f"{path}: expected a string, got {value!r}")
    _check_bounds(path, value, meta)
    return value


def _check_bounds(path: str, value: Any, meta: dict) -> None:
    choices = meta.get("choices")
    if choices is not None:
        valid = choices() if callable(choices) else choices
        if value not in valid:
            raise ConfigError(f"{path}: unknown value {value!r}; choose from: "
                              f"{', '.join(str(c) for c in valid)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{path}: {value!r} is not a finite number")
        if "min" in meta and value < meta["min"]:
            raise ConfigError(f"{path}: {value!r} is below the minimum {meta['min']}")
        if "max" in meta and value > meta["max"]:
            raise ConfigError(f"{path}: {value!r} is above the maximum {meta['max']}")
        if "gt" in meta and value <= meta["gt"]:
            raise ConfigError(f"{path}: {value!r} must be greater than {meta['gt']}")


def from_dict(cls: type, raw: Any, path: str = "") -> Any:
    """Build the dataclass `cls` from a nested mapping, checking every key, type and bound."""
    where = path or "config"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(map(str, raw)) - set(fields))
    if unknown:
        name = _key_text(unknown[0])
        key = f"{path}.{name}" if path else name
        raise ConfigError(f"{key}: unknown key; valid keys here: {', '.join(fields)}")
    values = {}
    for name, value in raw.items():
        key = f"{path}.{name}" if path else name
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            values[name] = from_dict(tp, value, key)
        else:
            values[name] = _check_value(key, value, tp, dict(fields[name].metadata))
    return cls(**values)


def validate_run(cfg: RunConfig) -> None:
    """Checks that span sections: scheme/optimizer pairs, stabilizers, metrics for the data."""
    from benchmark.data import DATASETS
    from benchmark.evaluation import validate_eval_config
    from benchmark.schemes import check_scheme_optimizer, total_steps
    from benchmark.stabilizers import parse_stabilizers
    from optim import check_lookahead, check_optimizer_options

    check_scheme_optimizer(cfg.scheme.name, cfg.optim.name)
    check_optimizer_options(cfg.optim.name, betas=(cfg.optim.beta1, cfg.optim.beta2),
                            momentum=cfg.optim.momentum,
                            moments_on_extrapolation=cfg.optim.moments_on_extrapolation,
                            scheme=cfg.scheme.name)
    check_lookahead(cfg.optim.lookahead_k, cfg.optim.lookahead_alpha)
    parse_stabilizers(cfg.stabilizers)
    total_steps(cfg)
    kinds = cfg.optim.averaging
    if len(set(kinds)) != len(kinds):
        raise ConfigError(f"optim.averaging: {kinds!r} lists a kind twice; list each once")
    source = DATASETS[cfg.data.dataset]
    validate_eval_config(cfg.eval, source, source.labelled)


# ---------------------------------------------------------------------------------------------
# Dotted keys, flat params and the run key.


def to_nested(overrides: dict) -> dict:
    """{"optim.lr_g": 1e-3} -> {"optim": {"lr_g": 1e-3}}; nested mappings pass through."""
    nested: dict = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{_key_text(key)}: {part!r} is not a section")
        leaf = parts[-1]
        if isinstance(value, dict) and isinstance(node.get(leaf), dict):
            node[leaf] = merge(node[leaf], value)
        else:
            node[leaf] = value
    return nested


def merge(base: dict, override: dict) -> dict:
    """Deep merge: sections merge key by key, leaves (and lists) are replaced."""
    out = copy.deepcopy(base)
    for key, value in to_nested(override).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _key_fields(obj: Any) -> dict:
    """The config as a plain dict without the fields that cannot change the numbers."""
    out = {}
    for f in dataclasses.fields(obj):
        if not f.metadata.get("in_key", True):
            continue
        value = getattr(obj, f.name)
        out[f.name] = _key_fields(value) if dataclasses.is_dataclass(value) else value
    return out


def _digest(payload: dict) -> str:
    text = json.dumps(payload, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_key(cfg: RunConfig) -> str:
    """A hash of the resolved config: finds the MLflow run to resume or to skip."""
    return _digest(_key_fields(cfg))


def config_key(cfg: RunConfig) -> str:
    """The run key without the seed: runs that differ only by seed are one config."""
    payload = _key_fields(cfg)
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
    from benchmark.stabilizers import describe_stabilizers

    params: dict[str, str] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = prefix + f.name
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
    """Readable and distinct per config (the seeds of one config share it, so MLflow's "Group
    by" on it draws each config's mean and band): dataset, optimizer, scheme, tricks, and the
    options that only some optimizers and schemes have, when they are not defaults."""
    tricks = "+".join(s["name"] for s in cfg.stabilizers) or "none"
    variants = []
    if cfg.scheme.name == "extragradient" and not cfg.scheme.resample:
        variants.append("noresample")
    if not cfg.optim.moments_on_extrapolation:
        variants.append("nomoments")
    if cfg.optim.averaging:
        variants.append("avg_" + "+".join(cfg.optim.averaging))
    if cfg.optim.lookahead_k:
        variants.append(f"la{cfg.optim.lookahead_k}_{cfg.optim.lookahead_alpha:g}")
    if cfg.optim.momentum:
        variants.append(f"mom{cfg.optim.momentum:g}")
    return "-".join([cfg.data.dataset, cfg.optim.name, cfg.scheme.name, *variants, tricks,
                     f"lr{cfg.optim.lr_g:g}_{cfg.optim.lr_d:g}"])


def describe_config(cfg: RunConfig) -> str:
    """The config in one line, for the run's description in the MLflow UI."""
    from benchmark.stabilizers import describe_stabilizers

    d, m, o, s, t = cfg.data, cfg.model, cfg.optim, cfg.scheme, cfg.train
    subset = "" if d.train_subset is None else f", {d.train_subset} train samples"
    optimizer = f"{o.name} (lr_g {o.lr_g:g}, lr_d {o.lr_d:g}"
    optimizer += f", averaging {'+'.join(o.averaging)})" if o.averaging else ")"
    scheme = s.name
    if s.name == "alternating" and s.d_steps > 1:
        scheme += f" ({s.d_steps} D steps)"
    if s.name == "extragradient" and not s.resample:
        scheme += " (no resampling)"
    budget = f"{t.steps} steps" if t.grad_evals is None else f"{t.grad_evals} gradient evaluations"
    return (f"{d.dataset} {d.image_size}px{subset}, batch {d.batch_size}; z_dim {m.z_dim}, "
            f"width {m.width:g}; {optimizer}; {scheme}; stabilizers "
            f"{describe_stabilizers(non_default_options(cfg.stabilizers))}; {budget}; "
            f"seed {cfg.seed}")


# ---------------------------------------------------------------------------------------------
# Grids.

GRID_KEYS = ("name", "description", "base", "axes", "runs", "exclude", "references")
MAX_DEPTH = 50  # nesting levels a grid may use; real grids use fewer than 10
MAX_VALUES = 100_000  # values a grid may expand to once YAML aliases are followed


@dataclass
class Grid:
    name: str
    path: Path | None
    runs: list[RunConfig]
    references: list = field(default_factory=list)
    description: str = ""


def _flatten_raw(raw: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            out.update(_flatten_raw(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _dotted(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def parse_exclude(rule: dict, where: str) -> dict[str, Any]:
    """An exclude rule as dotted key -> value, read the way a run's config is read: a key no
    config has (`optim.bogus`) or a value no config can hold is one line naming it, and the
    values are canonical (`1e-3` is 0.001, a stabilizer has all its options) so they compare
    equal to a run's resolved config however either was spelled."""
    try:
        parsed = from_dict(RunConfig, to_nested(rule), where)
    except ConfigError as err:  # a stabilizer's own message names `stabilizers[i]...`
        text = str(err)
        raise ConfigError(text if text.startswith(where) else f"{where}.{text}") from None
    return {key: _dotted(parsed, key) for key in _flatten_raw(to_nested(rule))}


def _matches(cfg: RunConfig, rule: dict[str, Any]) -> bool:
    return all(_dotted(cfg, key) == value for key, value in rule.items())


def _check_shape(raw: Any, source: str) -> None:
    """Refuse what YAML aliases can build before anything walks it: a cycle (`&a [*a]`), a
    'billion laughs' that expands to more values than memory holds, or nesting too deep to walk.
    Shared nodes are counted once per use but measured once, so the check itself stays cheap."""
    sizes: dict[int, int] = {}
    walking: set[int] = set()

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        if depth > MAX_DEPTH:
            raise ConfigError(f"{source}: nested deeper than {MAX_DEPTH} levels")
        ident = id(node)
        if ident in walking:
            raise ConfigError(f"{source}: a YAML alias refers to a value that contains it")
        if ident not in sizes:
            walking.add(ident)
            children = node.values() if isinstance(node, dict) else node
            sizes[ident] = 1 + sum(size(child, depth + 1) for child in children)
            walking.discard(ident)
        return sizes[ident]

    total = size(raw, 0)
    if total > MAX_VALUES:
        raise ConfigError(f"{source}: expands to {total} values through YAML aliases; the "
                          f"limit is {MAX_VALUES}")


def expand_grid(raw: Any, source: str = "grid", overrides: dict | None = None) -> Grid:
    """Validate a parsed grid and expand it: base, explicit runs, axes, excludes."""
    _check_shape(raw, source)
    _check_shape(overrides or {}, "--set")
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a grid is a mapping with keys {', '.join(GRID_KEYS)}")
    unknown = sorted(set(map(str, raw)) - set(GRID_KEYS))
    if unknown:
        raise ConfigError(f"{_key_text(unknown[0])}: unknown grid key; valid keys: "
                          f"{', '.join(GRID_KEYS)}")
    name = _as_text(raw.get("name"))
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise ConfigError(f"name: expected a non-empty name without '/', got {name!r}")
    base = raw.get("base") or {}
    if not isinstance(base, dict):
        raise ConfigError(f"base: expected a mapping of config values, got {base!r}")
    axes = raw.get("axes") or {}
    if not isinstance(axes, dict):
        raise ConfigError(f"axes: expected a mapping of dotted key -> list, got {axes!r}")
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"axes.{_key_text(key)}: expected a non-empty list of values, "
                              f"got {values!r}")
    explicit = raw.get("runs") or [{}]
    if not isinstance(explicit, list) or not all(isinstance(r, dict) for r in explicit):
        raise ConfigError(f"runs: expected a list of mappings of overrides, got {explicit!r}")
    excludes = raw.get("exclude") or []
    if not isinstance(excludes, list) or not all(isinstance(r, dict) for r in excludes):
        raise ConfigError(f"exclude: expected a list of mappings, got {excludes!r}")
    rules = [parse_exclude(rule, f"exclude[{i}]") for i, rule in enumerate(excludes)]

    from benchmark.reporting.references import parse_references

    references = parse_references(raw.get("references") or [])
    runs: list[RunConfig] = []
    seen: set[str] = set()
    for run_override in explicit:
        for combo in itertools.product(*axes.values()):
            point = merge(run_override, dict(zip(axes.keys(), combo, strict=True)))
            resolved = merge(merge(base, point), overrides or {})
            cfg = from_dict(RunConfig, resolved)
            if any(_matches(cfg, rule) for rule in rules):
                continue  # before the checks across sections: rules drop impossible pairs
            validate_run(cfg)
            key = run_key(cfg)
            if key not in seen:  # two spellings of the same run are one run
                seen.add(key)
                runs.append(cfg)
    if not runs:
        raise ConfigError("exclude: the rules remove every run of the grid")
    return Grid(name, None, runs, references, str(_as_text(raw.get("description")) or ""))


def _as_text(value: Any) -> Any:
    """A grid's own string keys take a number-like spelling as written (`name: 1e3`)."""
    return value.text if isinstance(value, SpelledFloat) else value


def load_grid(path: str | Path, overrides: dict | None = None) -> Grid:
    """Read a grid file with the safe YAML loader (no repeated keys) and expand it."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--grid: {str(path)!r} is a folder; pass a YAML grid file")
    if not path.is_file():
        raise ConfigError(f"--grid: no such file {str(path)!r}")
    try:
        raw = yaml.load(path.read_text(), Loader=GridLoader)  # a SafeLoader: plain data only
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the grid file: {err}") from None
    except RecursionError:  # the YAML composer recurses once per nesting level
        raise ConfigError(f"{path}: nested deeper than {MAX_DEPTH} levels") from None
    grid = expand_grid(raw, str(path), overrides)
    grid.path = path
    return grid


def parse_set(pairs: list[str]) -> dict:
    """`--set optim.lr_g=1e-3` pairs; values are parsed as YAML with the grid file's loader, so a
    value reads the same on the command line as in the file (`1e-3` a float, `[a, b]` a list)."""
    overrides: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set: expected key=value, got {pair!r}")
        try:
            overrides[key.strip()] = yaml.load(text, Loader=GridLoader)  # a SafeLoader
        except yaml.YAMLError:
            raise ConfigError(f"--set {key}: cannot parse the value {text!r}") from None
    return overrides
