"""Store calls that survive a busy store: sqlite's "database is locked" when several processes
write at once is retried with jittered backoff, and an http store that does not answer fails in
seconds instead of MLflow's four minutes."""

from __future__ import annotations

import contextlib
import functools
import os
import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

LOCK_ATTEMPTS = 40  # with the backoff below: about a minute of a store locked by others


def is_lock_error(err: Exception) -> bool:
    text = str(err).lower()
    return "database is locked" in text or "database table is locked" in text


def retrying(call: Callable[[], T], before_retry: Callable[[], T | None] | None = None) -> T:
    """`call()`, again with jittered exponential backoff while sqlite is locked. Before each
    retry, `before_retry()` may return the result the failed attempt achieved after all."""
    delay = 0.05
    for attempt in range(LOCK_ATTEMPTS):
        if attempt and before_retry is not None:
            done = before_retry()
            if done is not None:
                return done
        try:
            return call()
        except Exception as err:  # MlflowException or sqlalchemy's OperationalError
            if not is_lock_error(err) or attempt == LOCK_ATTEMPTS - 1:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def retry_locked(fn: Callable[..., T]) -> Callable[..., T]:
    """Retry a store call with jittered exponential backoff while sqlite is locked. Only for
    calls that may run twice: a run's creation goes through `RunLifecycle._create_run_once`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return retrying(lambda: fn(*args, **kwargs))

    return wrapper


# MLflow retries an unreachable server 7 times with doubling backoff (about four minutes); the
# reachability check gives up after one retry and a 10 s timeout instead, unless the user set
# these variables.
FAIL_FAST_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


@contextlib.contextmanager
def fail_fast():
    """Within this block, an http tracking store that does not answer fails in seconds."""
    unset = [k for k in FAIL_FAST_ENV if k not in os.environ]
    os.environ.update({k: FAIL_FAST_ENV[k] for k in unset})
    try:
        yield
    finally:
        for key in unset:
            os.environ.pop(key, None)
