"""What a grid's study design means: its published `references:` and its comparisons
(`reference:`, `compare:`, `effects:`), parsed and checked when the grid is read.

Declared here, beside the grid, so that `benchmark.grid` reads them without importing the report;
the report (`benchmark.reporting`) imports these declarations to measure against them. A grid
may declare, e.g., the ALI paper's 13.4 ± 5.8 of 25 modes on the mixture, and its comparisons:

    references:
      - metric: modes_covered
        mean: 13.4
        std: 5.8
        source: Dumoulin et al. 2016, Table 3
        settings: 25-Gaussian mixture, 10k samples
        where: {optim.name: adam}
    reference: {optim.name: adam, stabilizers: []}
    compare: reference        # every other config against the reference (default); or `all`
    effects: {fid_classifier: 5, recon_mse: 0.005}   # the smallest difference that matters
    headline: fid_classifier  # the metric the report's curves follow (default recon_mse)

`where` selects the configs a reference applies to by their MLflow params. The runner records
the design as tags on every training run (`Design.tags`), so a report from the store or from
runs.parquet knows it with no grid file. Imports no torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import yaml

from benchmark.errors import ConfigError
from benchmark.evaluation.declarations import declared, declared_keys
from benchmark.grid_yaml import GridLoader
from benchmark.registry import Registry

Scalar = str | int | float | bool

REQUIRED_KEYS = ("metric", "mean", "source", "settings")
OPTIONAL_KEYS = ("std", "where")


@dataclass(frozen=True)
class Reference:
    """One published value: metric, mean ± std, where it comes from and how it was measured."""

    metric: str
    mean: float
    source: str
    settings: str
    std: float | None = None
    where: Mapping[str, Scalar] = field(default_factory=dict)

    def band(self) -> tuple[float, float] | None:
        """The published band mean ± std, or None when the source gives no spread."""
        if self.std is None:
            return None
        return self.mean - self.std, self.mean + self.std

    def applies_to(self, params: Mapping[str, str]) -> bool:
        """True when every `where` entry equals the config's param (MLflow params are text)."""
        return all(same_value(params.get(key), want) for key, want in self.where.items())


def same_value(logged: str | None, want: Scalar) -> bool:
    """Compare a logged param (always a string) with a YAML value: 2e-4 matches '0.0002'."""
    if logged is None:
        return False
    if isinstance(want, bool):
        return logged.strip().lower() == str(want).lower()
    if isinstance(want, (int, float)):
        try:
            return math.isclose(float(logged), float(want), rel_tol=1e-9, abs_tol=0.0)
        except ValueError:
            return False
    return logged == want


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(at: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{at}: expected a non-empty string, got {value!r}")
    return value


def parse_where(at: str, value: object) -> dict[str, Scalar]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{at}: expected a mapping of param -> value, got {value!r}")
    out: dict[str, Scalar] = {}
    for key, want in value.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{at}: param names must be strings, got {key!r}")
        if not isinstance(want, (str, int, float, bool)):
            raise ConfigError(f"{at}.{key}: expected a string, number or boolean, got {want!r}")
        out[key] = want
    return out


def parse_reference(at: str, raw: object) -> Reference:
    """One mapping of the grid's `references` list; `at` is its position for messages."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{at}: expected a mapping with keys {', '.join(REQUIRED_KEYS)}, "
                          f"got {raw!r}")
    unknown = sorted(str(k) for k in raw if k not in REQUIRED_KEYS + OPTIONAL_KEYS)
    if unknown:
        raise ConfigError(f"{at}: unknown key {unknown[0]!r}; choose from: "
                          f"{', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ConfigError(f"{at}: missing key {missing[0]!r} (required: "
                          f"{', '.join(REQUIRED_KEYS)})")
    if not _is_number(raw["mean"]):
        raise ConfigError(f"{at}.mean: expected a finite number, got {raw['mean']!r}")
    std = raw.get("std")
    if std is not None and not (_is_number(std) and std >= 0):
        raise ConfigError(f"{at}.std: expected a finite number >= 0, got {std!r}")
    return Reference(
        metric=_text(f"{at}.metric", raw["metric"]),
        mean=float(raw["mean"]),
        source=_text(f"{at}.source", raw["source"]),
        settings=_text(f"{at}.settings", raw["settings"]),
        std=None if std is None else float(std),
        where=parse_where(f"{at}.where", raw.get("where")),
    )


def parse_references(raw: object) -> list[Reference]:
    """Validate a grid's `references` (a list of mappings); ConfigError names the bad entry."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"references: expected a list of mappings, got {raw!r}")
    return [parse_reference(f"references[{i}]", item) for i, item in enumerate(raw)]




TAG_REFERENCE = "alibench.reference_config"  # the reference config's config_key
TAG_COMPARE = "alibench.compare"  # a PAIRINGS name
TAG_EFFECTS = "alibench.effects"  # JSON {metric key: smallest difference that matters}
TAG_HEADLINE = "alibench.headline"  # the study's headline metric key, when the grid names one
DEFAULT_COMPARE = "reference"
DEFAULT_HEADLINE = "recon_mse"  # the suite's question: does ALI learn inference

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
    that matters; an interval wider than it is not evidence of "no difference". `headline`: the
    metric key the report's curves follow (None: DEFAULT_HEADLINE)."""

    reference_key: str | None = None
    reference_where: Mapping[str, Scalar] = field(default_factory=dict)
    compare: str = DEFAULT_COMPARE
    effects: Mapping[str, float] = field(default_factory=dict)
    headline: str | None = None

    def tags(self) -> dict[str, str]:
        """The design as MLflow tags of a training run (what `from_tags` reads back)."""
        out = {TAG_COMPARE: self.compare}
        if self.reference_key:
            out[TAG_REFERENCE] = self.reference_key
        if self.effects:
            out[TAG_EFFECTS] = json.dumps(dict(sorted(self.effects.items())))
        if self.headline:
            out[TAG_HEADLINE] = self.headline
        return out

    def to_json(self) -> str:
        raw = {"reference_key": self.reference_key, "reference_where": dict(self.reference_where),
               "compare": self.compare, "effects": dict(self.effects)}
        if self.headline:  # absent otherwise: files written before it read the same
            raw["headline"] = self.headline
        return json.dumps(raw, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Design:
        raw = json.loads(text)
        return cls(raw["reference_key"], raw["reference_where"], raw["compare"], raw["effects"],
                   raw.get("headline"))


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


def parse_headline(value: object, at: str = "headline") -> str | None:
    """A metric key some metric declares (`fid_classifier` matches `fid_*`), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or declared(value) is None:
        patterns = ", ".join(dict.fromkeys(k.key for k in declared_keys()))
        raise ConfigError(f"{at}: {value!r} is not a declared metric key; declared: {patterns}")
    return value


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
    return parse_where("--reference", raw)


def from_tags(tags: Sequence[Mapping[str, str]]) -> Design | None:
    """The design the runner recorded on the runs (None when none did); runs of two designs
    (the grid file changed between invocations) are one line asking for --reference."""
    seen = {tuple(t.get(k) for k in (TAG_REFERENCE, TAG_COMPARE, TAG_EFFECTS, TAG_HEADLINE))
            for t in tags}
    seen.discard((None, None, None, None))
    if not seen:
        return None
    if len(seen) > 1:
        refs = sorted(str(s[0]) for s in seen)
        raise ConfigError(f"{TAG_REFERENCE}: the runs record {len(seen)} designs (reference "
                          f"configs {', '.join(refs)}); pass --grid or --reference")
    reference, compare, effects, headline = seen.pop()
    return Design(reference, {}, parse_compare(compare, TAG_COMPARE),
                  parse_effects(json.loads(effects) if effects else None, TAG_EFFECTS),
                  parse_headline(headline, TAG_HEADLINE))


