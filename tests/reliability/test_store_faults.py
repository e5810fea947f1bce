"""Run creation in a real sqlite store when sqlite reports "database is locked" after the insert
has committed: the retry must find the run the failed attempt created, not create a second one
(the orphan would stay RUNNING for ever and split the run key across two MLflow runs).

The fault is injected around the real client call: the real insert runs and commits, then the
call raises the error sqlite raises under contention, once.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy.exc

from benchmark.tracking import TAG_KIND, TAG_RUN_KEY, MlflowStore


def _locked() -> Exception:
    return sqlalchemy.exc.OperationalError("INSERT INTO runs ...", {},
                                           sqlite3.OperationalError("database is locked"))


def _fail_once(store: MlflowStore, monkeypatch, after_commit: bool) -> list[str]:
    """The store's `create_run` raises "database is locked" on its first call, after (or
    before) doing the real insert; returns the ids the real call created."""
    real = store.client.create_run
    created: list[str] = []

    def create_run(*args, **kwargs):
        if not created and not after_commit:
            created.append("")  # the first attempt, failing before it inserts anything
            raise _locked()
        run = real(*args, **kwargs)
        created.append(run.info.run_id)
        if len(created) == 1:
            raise _locked()
        return run

    monkeypatch.setattr(store.client, "create_run", create_run)
    return created


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> MlflowStore:
    """One store for the module (creating its schema takes seconds); one experiment per test."""
    return MlflowStore(f"sqlite:///{tmp_path_factory.mktemp('locked')}/mlflow.db")


def _runs(store: MlflowStore, experiment: str, kind: str) -> list:
    runs = store.client.search_runs([experiment], max_results=100)
    return [r for r in runs if r.data.tags.get(TAG_KIND) == kind]


def test_a_lock_after_the_commit_does_not_create_a_second_training_run(store, monkeypatch):
    experiment = store.experiment_id("training-run")
    created = _fail_once(store, monkeypatch, after_commit=True)
    run_id = store.start_run(experiment, "r", {"optim.lr_g": "0.001"},
                             {TAG_RUN_KEY: "k1"}, parent_id=None)
    runs = _runs(store, experiment, "run")
    assert [r.info.run_id for r in runs] == [run_id] == created
    assert runs[0].info.status == "RUNNING" and runs[0].data.tags[TAG_RUN_KEY] == "k1"
    assert runs[0].data.params == {"optim.lr_g": "0.001"}
    assert store.find(experiment, "k1").run_id == run_id


def test_a_lock_after_the_commit_does_not_create_a_second_grid_run(store, monkeypatch):
    experiment = store.experiment_id("grid-run")
    created = _fail_once(store, monkeypatch, after_commit=True)
    run_id = store.start_grid(experiment, "locked", None)
    assert [r.info.run_id for r in _runs(store, experiment, "grid")] == [run_id] == created


def test_a_lock_before_the_insert_is_still_retried_into_one_run(store, monkeypatch):
    experiment = store.experiment_id("before-insert")
    created = _fail_once(store, monkeypatch, after_commit=False)
    run_id = store.start_run(experiment, "r", {}, {TAG_RUN_KEY: "k2"}, parent_id=None)
    grid_id = store.start_grid(experiment, "locked", None)
    assert [r.info.run_id for r in _runs(store, experiment, "run")] == [run_id]
    assert [r.info.run_id for r in _runs(store, experiment, "grid")] == [grid_id]
    assert created == ["", run_id, grid_id]
