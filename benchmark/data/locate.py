"""Finding a dataset's files under the data root, and the one-line errors when they are absent."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from benchmark.errors import DataError, first_line

T = TypeVar("T")

HOW_TO_SUPPLY = "pass --data-root DIR or set data.download: true"


def first_match(folders: Iterable[Path], find: Callable[[Path], T | None]) -> T | None:
    """The first non-None `find(folder)` over existing folders, in the order given."""
    for folder in folders:
        if folder.is_dir():
            found = find(folder)
            if found is not None:
                return found
    return None


def missing(dataset: str, what: str, folders: Iterable[Path]) -> DataError:
    """The error for data that is not on disk: what was sought, where, and how to supply it."""
    where = ", ".join(str(f) for f in folders)
    return DataError(f"{dataset}: no {what} in {where}; {HOW_TO_SUPPLY}")


def run_download(dataset: str, root: Path, fetch: Callable[[], T]) -> T:
    """Run a torchvision download; a failure (no network, bad mirror) becomes one DataError line."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        return fetch()
    except Exception as err:  # network and archive errors come in many types
        raise DataError(f"{dataset}: download into {root} failed ({first_line(err)}); "
                        f"download it by hand and pass --data-root DIR") from err
