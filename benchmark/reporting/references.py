"""Published numbers a grid reproduces, and whether the measured mean lands in their band.

A grid may declare, e.g., the ALI paper's 13.4 ± 5.8 of 25 modes on the mixture:

    references:
      - metric: modes_covered
        mean: 13.4
        std: 5.8
        source: Dumoulin et al. 2016, Table 3
        settings: 25-Gaussian mixture, 10k samples
        where: {optim.name: adam}

`where` selects the configs a reference applies to by their MLflow params. This module imports
only the standard library, because `benchmark.grid` calls `parse_references` on every grid.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from benchmark.errors import ConfigError

REQUIRED_KEYS = ("metric", "mean", "source", "settings")
OPTIONAL_KEYS = ("std", "where")

INSIDE = "inside"
OUTSIDE = "outside"
NO_BAND = "no published std"
NOT_MEASURED = "not measured"

Scalar = str | int | float | bool


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
        return all(_same_value(params.get(key), want) for key, want in self.where.items())


def _same_value(logged: str | None, want: Scalar) -> bool:
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


def _parse_where(at: str, value: object) -> dict[str, Scalar]:
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
        where=_parse_where(f"{at}.where", raw.get("where")),
    )


def parse_references(raw: object) -> list[Reference]:
    """Validate a grid's `references` (a list of mappings); ConfigError names the bad entry."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"references: expected a list of mappings, got {raw!r}")
    return [parse_reference(f"references[{i}]", item) for i, item in enumerate(raw)]


@dataclass(frozen=True)
class MeasuredConfig:
    """What the report measured for one config: its label, its params and final values."""

    label: str
    params: Mapping[str, str]
    finals: Mapping[str, Sequence[float]]


@dataclass(frozen=True)
class ReferenceRow:
    """One reference beside one matching config's measured mean ± std, with the verdict."""

    reference: Reference
    config: str
    n: int
    mean: float
    std: float
    verdict: str


def verdict(reference: Reference, measured_mean: float) -> str:
    """Whether the measured mean falls inside the published band mean ± std (inclusive)."""
    band = reference.band()
    if band is None:
        return NO_BAND
    if math.isnan(measured_mean):
        return NOT_MEASURED
    low, high = band
    return INSIDE if low <= measured_mean <= high else OUTSIDE


def compare_references(references: Sequence[Reference],
                       configs: Sequence[MeasuredConfig]) -> list[ReferenceRow]:
    """Each reference beside every config it applies to; 'not measured' when none has it."""
    rows: list[ReferenceRow] = []
    for ref in references:
        found = False
        for cfg in configs:
            values = [v for v in cfg.finals.get(ref.metric, ()) if not math.isnan(v)]
            if not ref.applies_to(cfg.params) or not values:
                continue
            found = True
            mean = statistics.fmean(values)
            std = statistics.stdev(values) if len(values) > 1 else math.nan  # ddof=1, as pandas
            rows.append(ReferenceRow(ref, cfg.label, len(values), mean, std, verdict(ref, mean)))
        if not found:
            rows.append(ReferenceRow(ref, "", 0, math.nan, math.nan, NOT_MEASURED))
    return rows
