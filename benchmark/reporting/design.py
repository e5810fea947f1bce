"""Which comparisons a study makes: a reference config, the pairs, the effects that matter.

A grid names its reference config the way it names an `exclude` rule, by dotted keys and
values that must match exactly one config (runs that differ only by seed):

    reference: {optim.name: adam, stabilizers: []}
    compare: reference        # every other config against the reference (default); or `all`
    effects: {fid_classifier: 5, recon_mse: 0.005}   # the smallest difference that matters

Every other config is compared with the reference, so Holm corrects over k - 1 comparisons, not
k (k - 1) / 2: the design, more than the models, decides whether a comparison can come out
positive. The runner resolves the reference to its `config_key` and records the design as tags
on every training run (`tags`), so a report from the store or from runs.parquet knows it with no
grid file; the report CLI may also give it (`--reference optim.name=adam`, `--compare all`),
matched on the runs' params as logged, as the published references' `where` is.

Imports only the standard library, the registries and the metric declarations (no torch).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import yaml

from benchmark.errors import ConfigError
from benchmark.evaluation.registry import declared, declared_keys
from benchmark.grid_yaml import GridLoader
from benchmark.registry import Registry
from benchmark.reporting.references import Scalar, _parse_where, _same_value

TAG_REFERENCE = "alibench.reference_config"  # the reference config's config_key
TAG_COMPARE = "alibench.compare"  # a PAIRINGS name
TAG_EFFECTS = "alibench.effects"  # JSON {metric key: smallest difference that matters}
DEFAULT_COMPARE = "reference"

Pairs = list[tuple[str, str]]
PAIRINGS: Registry[Callable[[Sequence[str], str | None], Pairs]] = Registry(
    "comparison", "compare")
PAIRINGS.register("reference", lambda configs, ref: [] if ref is None else [
    (ref, c) for c in configs if c != ref])
PAIRINGS.register("all", lambda configs, ref: [
    (a, b) for i, a in enumerate(configs) for b in configs[i + 1:]])


@dataclass(frozen=True)
class Design:
    """The comparisons of one report. `reference_key`: the reference config's config_key (from
    the runner's tags or a grid); `reference_where`: params it must have (from --reference),
    matched as logged. `compare`: a PAIRINGS name. `effects`: metric key -> smallest difference
    that matters; an interval wider than it is not evidence of "no difference"."""

    reference_key: str | None = None
    reference_where: Mapping[str, Scalar] = field(default_factory=dict)
    compare: str = DEFAULT_COMPARE
    effects: Mapping[str, float] = field(default_factory=dict)

    def tags(self) -> dict[str, str]:
        """The design as MLflow tags of a training run (what `from_tags` reads back)."""
        out = {TAG_COMPARE: self.compare}
        if self.reference_key:
            out[TAG_REFERENCE] = self.reference_key
        if self.effects:
            out[TAG_EFFECTS] = json.dumps(dict(sorted(self.effects.items())))
        return out

    def to_json(self) -> str:
        return json.dumps({"reference_key": self.reference_key,
                           "reference_where": dict(self.reference_where),
                           "compare": self.compare, "effects": dict(self.effects)},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Design:
        raw = json.loads(text)
        return cls(raw["reference_key"], raw["reference_where"], raw["compare"], raw["effects"])


def parse_compare(value: object, at: str = "compare") -> str:
    """A PAIRINGS name; one line listing them otherwise."""
    if value is None:
        return DEFAULT_COMPARE
    PAIRINGS.get(value, at)  # ConfigError: unknown value; choose from ...
    return str(value)


def parse_effects(raw: object, at: str = "effects") -> dict[str, float]:
    """metric key -> a finite number > 0; the key must be a declared metric (`fid_classifier`
    matches `fid_*`)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{at}: expected a mapping of metric key -> smallest difference that "
                          f"matters, got {raw!r}")
    out = {}
    for key, value in raw.items():
        if not isinstance(key, str) or declared(key) is None:
            patterns = ", ".join(dict.fromkeys(k.key for k in declared_keys()))
            raise ConfigError(f"{at}: {key!r} is not a declared metric key; declared: "
                              f"{patterns}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value > 0):
            raise ConfigError(f"{at}.{key}: expected a finite number > 0, got {value!r}")
        out[key] = float(value)
    return out


def parse_reference_args(pairs: Sequence[str]) -> dict[str, Scalar]:
    """`--reference optim.name=adam` pairs, values read as the grid file reads them (1e-3 is a
    number)."""
    raw: dict[str, object] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--reference: expected param=value, got {pair!r}")
        try:
            raw[key.strip()] = yaml.load(text, Loader=GridLoader)  # a SafeLoader
        except yaml.YAMLError:
            raise ConfigError(f"--reference {key}: cannot parse the value {text!r}") from None
    return _parse_where("--reference", raw)


def from_tags(tags: Sequence[Mapping[str, str]]) -> Design | None:
    """The design the runner recorded on the runs (None when none did); runs of two designs
    (the grid file changed between invocations) are one line asking for --reference."""
    seen = {tuple(t.get(k) for k in (TAG_REFERENCE, TAG_COMPARE, TAG_EFFECTS)) for t in tags}
    seen.discard((None, None, None))
    if not seen:
        return None
    if len(seen) > 1:
        refs = sorted(str(s[0]) for s in seen)
        raise ConfigError(f"{TAG_REFERENCE}: the runs record {len(seen)} designs (reference "
                          f"configs {', '.join(refs)}); pass --grid or --reference")
    reference, compare, effects = seen.pop()
    return Design(reference, {}, parse_compare(compare, TAG_COMPARE),
                  parse_effects(json.loads(effects) if effects else None, TAG_EFFECTS))


@dataclass(frozen=True)
class Candidate:
    """A config the reference may pick: its id (C1), label, config_key and params as logged."""

    config: str
    label: str
    config_key: str
    params: Mapping[str, str]


def pick_reference(design: Design, candidates: Sequence[Candidate]) -> str | None:
    """The id of the one config the design names (None when it names none)."""
    if design.reference_key is None and not design.reference_where:
        return None
    if design.reference_key is not None:
        found = [c for c in candidates if c.config_key == design.reference_key]
        asked = f"config_key {design.reference_key}"
    else:
        found = [c for c in candidates if all(_same_value(c.params.get(k), v)
                                              for k, v in design.reference_where.items())]
        asked = ", ".join(f"{k}={v}" for k, v in design.reference_where.items())
    if len(found) == 1:
        return found[0].config
    listed = "; ".join(f"{c.config} ({c.label})" for c in (found or candidates))
    if not found:
        raise ConfigError(f"reference: {asked} matches no config of the runs; configs: "
                          f"{listed}")
    raise ConfigError(f"reference: {asked} matches {len(found)} configs ({listed}); name more "
                      "params to pick one")
