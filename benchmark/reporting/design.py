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

What a grid's `reference:`, `compare:` and `effects:` mean is declared beside the grid
(`benchmark.grid_design`); this module picks the reference among a report's configs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmark.errors import ConfigError
from benchmark.grid_design import (  # noqa: F401  (the design's names, imported from here too)
    DEFAULT_COMPARE,
    DEFAULT_HEADLINE,
    PAIRINGS,
    TAG_COMPARE,
    TAG_EFFECTS,
    TAG_HEADLINE,
    TAG_REFERENCE,
    Design,
    Pairs,
    from_tags,
    parse_compare,
    parse_effects,
    parse_headline,
    parse_reference_args,
    same_value,
)


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
        found = [c for c in candidates if all(same_value(c.params.get(k), v)
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
