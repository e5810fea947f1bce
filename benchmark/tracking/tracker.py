"""What a training run reports (`Tracker`), and its MLflow implementation (`RunTracker`)."""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from benchmark.tracking.datasets import log_datasets
from benchmark.tracking.retries import retry_locked

if TYPE_CHECKING:
    from benchmark.data.provenance import DatasetRecord


class Tracker(Protocol):
    """What a run reports; MLflow stays replaceable behind it."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def log_image(self, image: np.ndarray, path: str) -> None: ...

    def set_tags(self, tags: dict[str, str]) -> None: ...

    def log_datasets(self, records: list[DatasetRecord]) -> None: ...


class RunTracker:
    """Logs into one MLflow run. On resume it skips metric steps the run already holds, so a
    step redone after an interruption is recorded exactly once."""

    def __init__(self, client, run_id: str):
        self.client = client
        self.run_id = run_id
        self.logged_through = self._logged_through()

    @retry_locked
    def _logged_through(self) -> dict[str, int]:
        keys = self.client.get_run(self.run_id).data.metrics
        return {k: max(m.step for m in self.client.get_metric_history(self.run_id, k))
                for k in keys}

    @retry_locked
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items()
                 if step > self.logged_through.get(k, -1)]
        if items:
            self.client.log_batch(self.run_id, metrics=items)
            for m in items:
                self.logged_through[m.key] = step

    @retry_locked
    def log_image(self, image: np.ndarray, path: str) -> None:
        from PIL import Image

        folder, _, name = path.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / name
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            file.write_bytes(buffer.getvalue())
            self.client.log_artifact(self.run_id, str(file), folder or None)

    @retry_locked
    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))

    @retry_locked
    def log_datasets(self, records: list[DatasetRecord]) -> None:
        log_datasets(self.client, self.run_id, records)
