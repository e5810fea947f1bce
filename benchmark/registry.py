"""One registry type for every extension point (datasets, optimizers, schemes, stabilizers,
metrics, feature extractors, significance tests), so each has the same name rule, the same
"already registered" guard and the same one-line "unknown value; choose from" error.

A plug-in adds an entry with `REGISTRY.register(name, item)`, or decorates a class that carries
its own `name` with `@REGISTRY.register`; validation, `--help` choices, run names and the report
read the registry, so nothing else needs an edit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

from benchmark.errors import ConfigError

T = TypeVar("T")


def check_name(kind: str, name: object) -> str:
    """A registered name is a non-empty string without whitespace or path separators: it ends
    up in run names, MLflow keys and file names."""
    if not isinstance(name, str) or not name or any(c.isspace() or c in "/\\" for c in name):
        raise ValueError(f"{kind} name must be a non-empty string without spaces or slashes, "
                         f"got {name!r}")
    return name


class Registry(Generic[T]):
    """Names to entries of one kind. `field` is the config field that selects an entry, used in
    the error a user sees; `check(name, item)` validates an entry when it is registered and
    raises ValueError or TypeError for a malformed one."""

    def __init__(self, kind: str, field: str,
                 check: Callable[[str, T], None] | None = None) -> None:
        self.kind = kind
        self.field = field
        self._check = check
        self._entries: dict[str, T] = {}

    @overload
    def register(self, name: str, item: T) -> T: ...

    @overload
    def register(self, name: T) -> T: ...

    def register(self, name, item=None):
        """Add `item` under `name`, or, called with a class alone (as a decorator), add the class
        under its `name` attribute. Returns the item, so decorated classes stay usable."""
        if item is None and not isinstance(name, str):
            item, name = name, getattr(name, "name", None)
        check_name(self.kind, name)
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if self._check is not None:
            self._check(name, item)
        self._entries[name] = item
        return item

    def get(self, name: object, field: str | None = None) -> T:
        """The entry named `name`; an unknown name is a one-line ConfigError naming the field,
        the value and the valid choices."""
        if not isinstance(name, str) or name not in self._entries:  # a list is unhashable
            raise ConfigError(f"{field or self.field}: unknown value {name!r}; choose from: "
                              f"{', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        """The valid names, sorted: the `choices` of the config field and of `--help`."""
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._entries.items())

    def unregister(self, name: str) -> None:
        """Remove an entry (tests that register a plug-in clean up after themselves)."""
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
