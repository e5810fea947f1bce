"""A run's datasets described to MLflow: each split as a dataset input (name, digest, source,
profile; the split as its context), metadata only: the samples stay where they are."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmark.data.provenance import DatasetRecord


def log_datasets(client, run_id: str, records: list[DatasetRecord]) -> None:
    """Log `records` as the run's inputs. MLflow keeps one input per dataset and run, so a
    resumed run logs them again harmlessly."""
    from mlflow.entities import DatasetInput, InputTag

    inputs = [DatasetInput(_mlflow_dataset(r)._to_mlflow_entity(),
                           [InputTag("mlflow.data.context", r.split)]) for r in records]
    for attempt in range(3):
        try:
            client.log_inputs(run_id, datasets=inputs)
            return
        except Exception as err:
            # A dataset is stored once per experiment: parallel runs of one grid that log it
            # at the same moment collide on its unique key; the loser's next attempt finds it
            # stored and links to it.
            text = str(err).lower()
            if attempt == 2 or not ("unique" in text or "duplicate" in text):
                raise


def _mlflow_dataset(record: DatasetRecord):
    """An MLflow `MetaDataset` with the record's profile."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.sources import LocalArtifactDatasetSource

    class ProfiledDataset(MetaDataset):
        def to_dict(self) -> dict[str, str]:
            return {**super().to_dict(), "profile": json.dumps(record.profile)}

    source = (LocalArtifactDatasetSource(record.source) if record.source_kind == "local"
              else CodeDatasetSource({"mlflow.source.name": record.source}))
    return ProfiledDataset(source, name=record.name, digest=record.digest)
