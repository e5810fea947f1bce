"""The YAML dialect of grid files: safe (plain data only), no key given twice in one mapping,
and numbers written the way researchers write them (`1e-3`, `5E-5`) read as numbers.

A leaf: it imports only PyYAML and the errors, so the report CLI reads grid files exactly as the
runner does (`read_grid_file`, the same messages) without loading the config schema and torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import ConfigError

MAX_DEPTH = 50  # nesting levels a grid may use; real grids use fewer than 10


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


def read_grid_file(path: str | Path) -> Any:
    """A grid file's plain data, read with `GridLoader`; every way to get the file wrong is
    one ConfigError line naming `--grid` and the path."""
    path = Path(path)
    where = f"--grid: {str(path)!r}"
    if path.is_dir():
        raise ConfigError(f"{where} is a folder; pass a YAML grid file")
    if not path.is_file():
        raise ConfigError(f"--grid: no such file {str(path)!r}")
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=GridLoader)  # a SafeLoader
    except UnicodeDecodeError as err:
        raise ConfigError(f"{where} is not UTF-8 text ({err.reason} at byte {err.start})") \
            from None
    except OSError as err:
        raise ConfigError(f"--grid: cannot read {str(path)!r}: {err.strerror or err}") from None
    except RecursionError:  # the YAML composer recurses once per nesting level
        raise ConfigError(f"{where} is nested deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where} is not valid YAML{at}: {problem}") from None
