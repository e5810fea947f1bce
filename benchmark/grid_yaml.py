"""The YAML dialect of grid files: safe (plain data only), no key given twice in one mapping,
and numbers written the way researchers write them (`1e-3`, `5E-5`) read as numbers.

A leaf: it imports only PyYAML, so the report CLI reads grids exactly as the runner does without
loading the config schema (and torch behind it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import yaml


class SpelledFloat(float):
    """A number written the way everyone writes learning rates (`1e-3`, `5E-5`, `1.0e3`) that
    YAML 1.1 would keep a string: a float wherever a float is read, and the text as written
    wherever a string is (a folder named `1e3` stays `1e3`)."""

    text: str

    def __new__(cls, text: str) -> SpelledFloat:
        number = super().__new__(cls, text.replace("_", ""))
        number.text = text
        return number

    def __repr__(self) -> str:  # messages quote the value as the user wrote it
        return self.text

    __str__ = __repr__

    def __reduce__(self):
        return SpelledFloat, (self.text,)


class GridLoader(yaml.SafeLoader):
    """The safe loader (plain data only, no Python tags), refusing a key given twice in one
    mapping: plain YAML keeps the last silently, so a repeated `train:` section would drop the
    first one's values without a word."""


def _unique_keys(loader: GridLoader, node: yaml.MappingNode) -> Iterator[dict]:
    """SafeLoader's mapping constructor plus the check; a generator like the original, so an
    alias may still point into its own mapping (`_check_shape` then names the cycle)."""
    seen: set = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`; later keys override
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            repeated = key in seen
        except TypeError:  # an unhashable key: construct_mapping reports it
            continue
        if repeated:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark)
        seen.add(key)
    data: dict = {}
    yield data
    data.update(loader.construct_mapping(node))


GridLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_keys)

# YAML 1.1 reads a float only with a dot and a signed exponent (`1.0e-3`); `1e-3`, `5E-5` and
# `1.0e3` stay strings. This resolver, on the grid loader only and tried after YAML's own int
# and float ones (so `1` stays an int and `.5`, `2.0e-4` stay plain floats), reads the rest of
# the usual spellings as numbers that remember their text.
SPELLED_FLOAT_TAG = "tag:alibench,2025:spelled-float"
GridLoader.add_implicit_resolver(
    SPELLED_FLOAT_TAG,
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def _spelled_float(loader: GridLoader, node: yaml.ScalarNode) -> SpelledFloat:
    text = loader.construct_scalar(node)
    try:
        return SpelledFloat(text)
    except ValueError:  # only an explicit `!<tag:alibench...>` can carry other text
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a number", node.start_mark) from None


GridLoader.add_constructor(SPELLED_FLOAT_TAG, _spelled_float)
