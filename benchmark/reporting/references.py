"""Published numbers a grid reproduces, and whether the measured mean lands in their band.

A grid may declare, e.g., the ALI paper's 13.4 ± 5.8 of 25 modes on the mixture:

    references:
      - metric: modes_covered
        mean: 13.4
        std: 5.8
        source: Dumoulin et al. 2016, Table 3
        settings: 25-Gaussian mixture, 10k samples
        where: {optim.name: adam}

`where` selects the configs a reference applies to by their MLflow params. What a grid's
`references:` mean, and their parsing, is declared beside the grid (`benchmark.grid_design`);
this module measures them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmark.grid_design import (  # noqa: F401  (parse_references: imported from here too)
    Reference,
    parse_references,
)

INSIDE = "inside"
OUTSIDE = "outside"
NO_BAND = "no published std"
NOT_MEASURED = "not measured"


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
