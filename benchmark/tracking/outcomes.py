"""How a run ended, in one enum: the `outcome` tag, a summary line's word, a stored run's state.

A `str` enum, so the tags in the store, the report's columns and the tuning studies' user
attributes stay the same plain strings ("finished", "diverged", ...); `str()` and f-strings give
the value, on every Python this package supports.
"""

from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    NEW = "new"  # no run in the store yet: a state, never a tag
    RUNNING = "running"  # started and not ended (or killed before it could end)
    FINISHED = "finished"
    DIVERGED = "diverged"  # a loss or a parameter went non-finite
    FAILED = "failed"  # raised: the error is in the run's `error` tag
    PRUNED = "pruned"  # stopped early by a tuning search's pruner: an outcome, not a failure
    INTERRUPTED = "interrupted"  # its worker died (killed, node lost): resumes next time

    def __str__(self) -> str:
        return self.value


def stored_state(outcome_tag: str | None, status: str) -> Outcome:
    """What a stored run is, for skipping and resuming, from its `outcome` tag and MLflow's
    status: a run still RUNNING (killed) or KILLED resumes from its checkpoint."""
    if outcome_tag == Outcome.FINISHED and status == "FINISHED":
        return Outcome.FINISHED
    if outcome_tag in (Outcome.DIVERGED, Outcome.FAILED):
        return Outcome(outcome_tag)
    if outcome_tag == Outcome.PRUNED and status == "FINISHED":
        return Outcome.PRUNED
    return Outcome.INTERRUPTED
