"""A new sqlite tracking store appears whole or not at all.

MLflow creates a sqlite store in place: tables, then some forty schema migrations, seconds of
work on the file every later command opens. A process killed in between leaves a store every
later command refuses (`table _alembic_tmp_... already exists`), and two processes creating it
at once collide the same way. So the store is made under a temporary name, behind a lock file
beside it, and renamed into place when complete: a kill leaves only a temporary file (removed by
the next creator), a second process waits on the lock and then finds the store made. A store
left half made at its final path (by MLflow itself, or by a version before this one) is made
again when it holds no runs; one that holds runs is left for MLflow to explain.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

SIDE_FILES = ("-journal", "-wal", "-shm")  # sqlite's files beside a database


@functools.cache
def _head_revision() -> str:
    """The schema revision of a store this MLflow makes (its migrations' head)."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    return _get_latest_schema_revision()


def _query(db: Path, sql: str) -> list[tuple] | None:
    """Rows of `sql` on `db` read-only; None when the file or the table is not there."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.Error:
        return None


def is_complete(db: Path) -> bool:
    """Whether `db` is a store at this MLflow's schema with no migration left half done."""
    if not db.is_file():
        return False
    version = _query(db, "SELECT version_num FROM alembic_version")
    leftovers = _query(db, "SELECT name FROM sqlite_master WHERE name LIKE '_alembic_tmp_%'")
    return version == [(_head_revision(),)] and leftovers == []


def holds_runs(db: Path) -> bool:
    """Whether `db` holds any run (then it is never removed, whatever state it is in)."""
    rows = _query(db, "SELECT COUNT(*) FROM runs")
    return bool(rows and rows[0][0])


def _remove(db: Path) -> None:
    """The database and its journals: a stale hot journal must not roll back into a new file."""
    for suffix in ("", *SIDE_FILES):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(db: Path) -> Iterator[None]:
    """An exclusive lock on `.<name>.lock` beside the store, released by the kernel when the
    holder dies, so a killed creator never blocks the next one."""
    with open(db.with_name(f".{db.name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_store(db: Path, artifact_root: Path) -> None:
    """Make the sqlite store `db` if it is not complete (see the module's docstring)."""
    if is_complete(db):
        return
    with _locked(db):
        if is_complete(db):  # another process made it while this one waited
            return
        if db.exists():
            if holds_runs(db):
                return  # not ours to remove: MLflow names what is wrong with it
            _remove(db)
        for stale in db.parent.glob(f".{db.name}.creating-*"):  # creators killed before us
            if not any(stale.name.endswith(s) for s in SIDE_FILES):
                _remove(stale)
        temporary = db.with_name(f".{db.name}.creating-{os.getpid()}")
        _create(temporary, artifact_root)
        os.replace(temporary, db)


def _create(path: Path, artifact_root: Path) -> None:
    """Tables and every migration, in a file no other process opens."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{path}", str(artifact_root))
    store.engine.dispose()
    _remove_side_files(path)


def _remove_side_files(path: Path) -> None:
    for suffix in SIDE_FILES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
