"""The MLflow UI's saved view that compares configs over seeds, and the link that opens it.

A saved view of MLflow 3's runs page ("Views" menu) is an experiment tag holding the page's state
as JSON, deflated, as the UI writes it.
"""

from __future__ import annotations

import base64
import json
import time
import zlib

from benchmark.tracking.retries import retry_locked
from benchmark.tracking.tags import KEY_TAGS, TAG_CONFIG

VIEW_TAG_PREFIX = "mlflow.sharedViewState."
VIEW_KEY = "alibench-compare-seeds"
VIEW_NAME = "alibench: configs over seeds"


def view_state(metric_keys: list[str]) -> dict:
    """Runs grouped by the `alibench.config` tag, so each chart draws a config's mean with its
    min-max band, with the key tags and `metric_keys` as table columns."""
    columns = ["attributes.`Dataset`", "attributes.`Description`",
               *(f"tags.`{t}`" for t in KEY_TAGS), *(f"metrics.`{m}`" for m in metric_keys)]
    return {"searchFilter": "", "orderByKey": "attributes.start_time", "orderByAsc": False,
            "startTime": "ALL", "lifecycleFilter": "Active", "datasetsFilter": [],
            "modelVersionFilter": "All Runs", "selectedColumns": columns,
            "useGroupedValuesInCharts": True, "hideEmptyCharts": True,
            "groupBy": {"aggregateFunction": "average", "groupByKeys": [
                {"mode": "tag", "groupByData": TAG_CONFIG}]},
            "globalLineChartConfig": {"xAxisKey": "step", "lineSmoothness": 0,
                                      "selectedXAxisMetricKey": ""}}


class SavedView:
    """The saved-view half of `MlflowStore` (it needs `self.client` and `self.tracking_uri`)."""

    client: object
    tracking_uri: str

    @retry_locked
    def save_comparison_view(self, experiment_id: str, metric_keys: list[str]) -> None:
        """Save (or refresh) the view that compares configs over seeds (`view_state`)."""
        packed = base64.b64encode(zlib.compress(json.dumps(view_state(metric_keys)).encode()))
        now = int(time.time() * 1000)
        self.client.set_experiment_tag(experiment_id, VIEW_TAG_PREFIX + VIEW_KEY, json.dumps(
            {"name": VIEW_NAME, "createdAt": now, "updatedAt": now,
             "state": f"deflate;{packed.decode()}"}))

    def ui_link(self, experiment_id: str, base: str = "http://127.0.0.1:5000") -> str:
        """Where a browser opens the comparison view: the training runs (MLflow 3.17 opens an
        experiment on its GenAI overview unless the link asks for the "Model training" side),
        as charts, with the saved view. `base`: the tracking server, or `mlflow ui`'s address."""
        if self.tracking_uri.startswith(("http://", "https://")):
            base = self.tracking_uri.rstrip("/")
        return (f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
                f"&compareRunsMode=CHART&viewStateShareKey={VIEW_KEY}")
