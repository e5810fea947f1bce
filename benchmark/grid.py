"""The grid file: loading (`load_grid`), expansion into runs (base, explicit runs, axes,
excludes, `--set`), and `--set` parsing. Each run is a validated `RunConfig`; two spellings of
one run are one run (same run key).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import ConfigError
from benchmark.grid_design import (
    Design,
    parse_compare,
    parse_effects,
    parse_headline,
    parse_references,
)
from benchmark.grid_yaml import MAX_DEPTH, GridLoader, SpelledFloat, read_grid_file
from benchmark.run_config import (
    RunConfig,
    config_key,
    config_name,
    label_varying,
    resolved,
    run_key,
    validate_run,
)
from benchmark.validation import from_dict, key_text, merge, section_values, to_nested

GRID_KEYS = ("name", "description", "base", "axes", "runs", "exclude", "references",
             "reference", "compare", "effects", "headline")
MAX_VALUES = 100_000  # values a grid may expand to once YAML aliases are followed


@dataclass
class Grid:
    name: str
    path: Path | None
    runs: list[RunConfig]
    references: list = field(default_factory=list)
    description: str = ""
    design: Design = field(default_factory=Design)  # reference config, pairs, effects


def _flatten_raw(raw: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            out.update(_flatten_raw(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _dotted(cfg: Any, key: str) -> Any:
    """The value at a dotted key as the config is written (an optimizer's options beside the
    section's fields); None where this config has no such key (another optimizer's option)."""
    for part in key.split("."):
        if not dataclasses.is_dataclass(cfg):
            return None
        cfg = section_values(cfg).get(part)
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
        raise ConfigError(f"{key_text(unknown[0])}: unknown grid key; valid keys: "
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
            raise ConfigError(f"axes.{key_text(key)}: expected a non-empty list of values, "
                              f"got {values!r}")
    explicit = raw.get("runs") or [{}]
    if not isinstance(explicit, list) or not all(isinstance(r, dict) for r in explicit):
        raise ConfigError(f"runs: expected a list of mappings of overrides, got {explicit!r}")
    excludes = raw.get("exclude") or []
    if not isinstance(excludes, list) or not all(isinstance(r, dict) for r in excludes):
        raise ConfigError(f"exclude: expected a list of mappings, got {excludes!r}")
    rules = [parse_exclude(rule, f"exclude[{i}]") for i, rule in enumerate(excludes)]
    references = parse_references(raw.get("references") or [])
    runs: list[RunConfig] = []
    seen: set[str] = set()
    sizes: dict[tuple, dict[str, int]] = {}  # split sizes, counted once per dataset
    for run_override in explicit:
        for combo in itertools.product(*axes.values()):
            point = merge(run_override, dict(zip(axes.keys(), combo, strict=True)))
            raw_run = merge(merge(base, point), overrides or {})
            cfg = from_dict(RunConfig, raw_run)
            if any(_matches(cfg, rule) for rule in rules):
                continue  # before the checks across sections: rules drop impossible pairs
            cfg = resolved(cfg, sizes)  # counts left out: min(default, split size)
            validate_run(cfg)
            key = run_key(cfg)
            if key not in seen:  # two spellings of the same run are one run
                seen.add(key)
                runs.append(cfg)
    if not runs:
        raise ConfigError("exclude: the rules remove every run of the grid")
    runs = label_varying(runs)  # names tell apart every config of the grid
    design = Design(reference_key=_reference_key(raw.get("reference"), runs),
                    compare=parse_compare(raw.get("compare")),
                    effects=parse_effects(raw.get("effects")),
                    headline=parse_headline(raw.get("headline")))
    return Grid(name, None, runs, references, str(_as_text(raw.get("description")) or ""),
                design)


def _reference_key(raw: Any, runs: list[RunConfig]) -> str | None:
    """The config_key of the one config (runs that differ only by seed) the `reference` rule
    matches; the rule is read like an `exclude` rule (`1e-3` is 0.001)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"reference: expected a mapping of dotted key -> value naming one "
                          f"config (like an exclude rule), got {raw!r}")
    rule = parse_exclude(raw, "reference")
    found = {config_key(cfg) for cfg in runs if _matches(cfg, rule)}
    if len(found) == 1:
        return found.pop()
    asked = ", ".join(f"{k}={v!r}" for k, v in rule.items())
    if not found:
        have = "; ".join(f"{k}: " + ", ".join(sorted({repr(_dotted(cfg, k)) for cfg in runs}))
                         for k in rule)
        raise ConfigError(f"reference: {asked} matches no config of the grid; its configs "
                          f"have {have}")
    names = sorted({config_name(cfg) for cfg in runs if config_key(cfg) in found})
    raise ConfigError(f"reference: {asked} matches {len(found)} configs ({'; '.join(names)}); "
                      "add keys to pick one")


def _as_text(value: Any) -> Any:
    """A grid's own string keys take a number-like spelling as written (`name: 1e3`)."""
    return value.text if isinstance(value, SpelledFloat) else value


def load_grid(path: str | Path, overrides: dict | None = None) -> Grid:
    """Read a grid file with the safe YAML loader (no repeated keys) and expand it."""
    grid = expand_grid(read_grid_file(path), str(path), overrides)
    grid.path = Path(path)
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
