"""The validation leaf: a settings dataclass built from a nested mapping, every key, type and
bound checked from its type hints and `field(metadata=...)` (docs/CONTRACTS.md), plus the deep
merge of overrides. It imports nothing of the benchmark but its errors and the grid YAML dialect,
so any layer (stabilizers, optimizers, the run config, the grid file) can use it.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from typing import Any

from benchmark.errors import ConfigError
from benchmark.grid_yaml import SpelledFloat


def key_text(key: Any) -> str:
    """A key as it goes into a one-line message: quoted when it holds newlines or controls."""
    text = str(key)
    return text if text.isprintable() else repr(text)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def check_value(path: str, value: Any, tp: Any, meta: dict) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return check_value(path, value, inner, meta)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        return [check_value(f"{path}[{i}]", v, args[0], meta) for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{path}: expected a list of {len(args)} values, got {value!r}")
        return tuple(check_value(f"{path}[{i}]", v, a, meta) for i, (v, a) in
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


def options_field(cls: type) -> str | None:
    """The field (metadata `entry_options: True`) that holds the options of the section's chosen
    entry (the optimizer of `optim`, the scheme of `scheme`): they are written beside the
    section's own fields (`optim.beta1`), and each entry declares them as a dataclass."""
    return next((f.name for f in dataclasses.fields(cls) if f.metadata.get("entry_options")),
                None)


def from_dict(cls: type, raw: Any, path: str = "") -> Any:
    """Build the dataclass `cls` from a nested mapping, checking every key, type and bound.

    Keys no field names go to the section's entry-options field when it has one, as a mapping:
    the dataclass builds its chosen entry's options from them (in `__post_init__`, with
    `parse_entry_options`), which checks them against what the entries declare."""
    where = path or "config"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    held = options_field(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)
              if f.init and not f.metadata.get("entry_options")}
    unknown = sorted(set(map(str, raw)) - set(fields))
    if unknown and held is None:
        name = key_text(unknown[0])
        key = f"{path}.{name}" if path else name
        raise ConfigError(f"{key}: unknown key; valid keys here: {', '.join(fields)}")
    values: dict[str, Any] = {held: {}} if held is not None else {}
    for name, value in raw.items():
        key = f"{path}.{name}" if path else name
        if name not in fields:
            values[held][name] = value
            continue
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            values[name] = from_dict(tp, value, key)
        else:
            values[name] = check_value(key, value, tp, dict(fields[name].metadata))
    return cls(**values)


def section_values(obj: Any) -> dict[str, Any]:
    """A settings dataclass's fields as one flat mapping, its chosen entry's options beside the
    others (`written_options()`): how the section was written, and how the run key and the
    params see it."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if f.metadata.get("entry_options"):
            out.update(obj.written_options())
        elif f.init:
            out[f.name] = getattr(obj, f.name)
    return out


def option_types(options_cls: type) -> dict[str, tuple[Any, dataclasses.Field]]:
    """An options dataclass's fields: name -> (type, field)."""
    hints = typing.get_type_hints(options_cls)
    return {f.name: (hints[f.name], f) for f in dataclasses.fields(options_cls)}


def declared_fields(entries: dict[str, type]) -> dict[str, tuple[Any, dataclasses.Field]]:
    """Every option some entry declares (an entry's `Options` dataclass), by name."""
    declared: dict[str, tuple[Any, dataclasses.Field]] = {}
    for options_cls in entries.values():
        declared.update(option_types(options_cls))
    return declared


def same_declaration(a: tuple[Any, dataclasses.Field], b: tuple[Any, dataclasses.Field]) -> bool:
    """Whether two entries declare an option alike (type, default, bounds, label)."""
    return a[0] == b[0] and a[1].default == b[1].default and a[1].metadata == b[1].metadata


def parse_entry_options(section: str, entries: dict[str, type], chosen: str, given: dict,
                        general: list[str]) -> tuple[Any, dict[str, Any]]:
    """The options of entry `chosen` (an instance of `entries[chosen]`, its `Options`) from the
    section's keys `given`, each checked against its declaration; and the options only other
    entries declare that are given at a value other than their default (`ignored`: kept, so
    `exclude` rules can name them, and refused by the section's cross-checks). A key no entry
    declares is an unknown key of the section."""
    declared = declared_fields(entries)
    own = option_types(entries[chosen]) if chosen in entries else {}
    taken, ignored = {}, {}
    for option, value in given.items():
        if option not in declared:
            raise ConfigError(f"{section}.{key_text(option)}: unknown key; valid keys here: "
                              f"{', '.join([*general, *sorted(declared)])}")
        tp, decl = declared[option]
        value = check_value(f"{section}.{option}", value, tp, dict(decl.metadata))
        if option in own:
            taken[option] = value
        elif value != decl.default:
            ignored[option] = value
    options = entries[chosen](**taken) if chosen in entries else None
    return options, dict(sorted(ignored.items()))


def show_option(name: str, value: Any, metadata: Any) -> str:
    """How a run name shows an option at a value other than its default: its metadata's
    `label(value)`, else `<name><value>` (`no<name>` for a false flag)."""
    label = metadata.get("label")
    if label is not None:
        return label(value)
    if isinstance(value, bool):
        return name if value else f"no{name}"
    return f"{name}{value:g}" if isinstance(value, (int, float)) else f"{name}_{value}"


def non_default_labels(options: Any, flags: bool | None = None) -> list[str]:
    """How a run name shows the options of `options` (an entry's Options instance) that are not
    at their defaults (only the true/false ones, or only the others, when `flags` says so)."""
    if options is None:
        return []
    return [show_option(f.name, getattr(options, f.name), f.metadata)
            for f in dataclasses.fields(options)
            if getattr(options, f.name) != f.default
            and (flags is None or isinstance(f.default, bool) == flags)]


def to_nested(overrides: dict) -> dict:
    """{"optim.lr_g": 1e-3} -> {"optim": {"lr_g": 1e-3}}; nested mappings pass through."""
    nested: dict = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key_text(key)}: {part!r} is not a section")
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
