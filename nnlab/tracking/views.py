"""The pages of the MLflow UI nnlab points users to: each experiment's runs, grouped by arm.

MLflow's UI (3.17) opens an experiment on its GenAI overview unless the URL asks for the
model-training view (`workflowType=machine_learning`; the UI remembers the choice per browser,
not per experiment). Its runs table can be set up by a *shared view state*: an experiment tag
`mlflow.sharedViewState.<key>` holding the table's state as JSON (the search facets and the UI
state the UI's own "Share" button writes), applied when the URL of the runs tab names the key
(`#/experiments/<id>/runs?viewStateShareKey=<key>`; on `#/experiments/<id>` alone, which
redirects to the tab, the UI ignores it). nnlab writes one for every experiment a sweep logs
to: the runs' key metrics and `nnlab.arm` as columns, every run shown, grouped by arm (the mean
of each arm's seeds, with their range in the charts). The sweeps' parent runs have no arm: the
UI lists them under "Additional runs".

Which experiments have runs is read straight from the store's SQL tables (MLflow's schema:
`experiments`, `runs`, `tags`, `experiment_tags`), so that `nnlab.ui` prints its links without
importing MLflow (seconds). No MLflow import here.
"""

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from nnlab.contract import ARM_TAG, KIND_TAG
from nnlab.tracking.uri import sqlite_database

VIEW_KEY = "nnlab"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
# The metrics the runs table shows after the analysis block's own: the cost, and the yardsticks
# of both tasks (the table shows only those the runs logged, in its own order).
KEY_METRICS = ("test_loss", "final_train_loss", "test_accuracy", "test_mse", "train_time_s")
# How many experiments `nnlab.ui` links to.
MOST_RECENT = 5


def _column(kind: str, key: str) -> str:
    """A runs-table column as the UI names it: metrics.`test_loss`, tags.`nnlab.arm`."""
    return f"{kind}.`{key}`"


def runs_view(first_metrics: Sequence[str] = ()) -> tuple[str, str]:
    """The experiment tag (key, value) of nnlab's runs view.

    The value is every field the UI's share button writes (MLflow 3.17's
    `ExperimentPageSearchFacetsState` and `ExperimentPageUIState`): the UI replaces its whole
    state with the shared one, so a field left out would be missing, not defaulted.
    """
    metrics = list(dict.fromkeys([*first_metrics, *KEY_METRICS]))
    state = {
        # The search facets: all active runs, newest first.
        "searchFilter": "", "orderByKey": "attributes.start_time", "orderByAsc": False,
        "startTime": "ALL", "lifecycleFilter": "Active", "datasetsFilter": [],
        "modelVersionFilter": "All Runs",
        # The table and the charts.
        "selectedColumns": [_column("tags", ARM_TAG), *(_column("metrics", m) for m in metrics),
                            _column("attributes", "Dataset")],
        "columnOrder": [], "columnWidths": {}, "runsExpanded": {}, "runsPinned": [],
        "runsHidden": [], "runsVisibilityMap": {},
        # The UI's default shows 10 runs in the charts; a sweep's charts need them all.
        "runsHiddenMode": "SHOW_ALL",
        "viewMaximized": False, "runListHidden": False, "isAccordionReordered": False,
        "groupBy": {"aggregateFunction": "average",
                    "groupByKeys": [{"mode": "tag", "groupByData": ARM_TAG}]},
        "groupsExpanded": {}, "autoRefreshEnabled": True, "useGroupedValuesInCharts": True,
        "hideEmptyCharts": True,
        "globalLineChartConfig": {"xAxisKey": "step", "lineSmoothness": 0,
                                  "selectedXAxisMetricKey": ""},
    }
    return VIEW_TAG, json.dumps(state)


def runs_page(base_url: str, experiment_id: str, with_view: bool = True) -> str:
    """The URL of an experiment's runs in the model-training view (with nnlab's runs view)."""
    query = {"workflowType": "machine_learning"}
    if with_view:
        query["viewStateShareKey"] = VIEW_KEY
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?{urlencode(query)}"


@dataclass(frozen=True)
class ExperimentRuns:
    experiment_id: str
    name: str
    runs: int  # the jobs' runs, sweeps' parent runs aside
    has_view: bool  # whether nnlab's runs view is there (experiments of older sweeps: not)


_QUERY = f"""
SELECT e.experiment_id, e.name,
       SUM(CASE WHEN EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid
                             AND t.key = '{KIND_TAG}') THEN 0 ELSE 1 END),
       CASE WHEN EXISTS (SELECT 1 FROM experiment_tags x WHERE x.experiment_id = e.experiment_id
                         AND x.key = '{VIEW_TAG}') THEN 1 ELSE 0 END
FROM experiments e JOIN runs r ON r.experiment_id = e.experiment_id
WHERE e.lifecycle_stage = 'active' AND r.lifecycle_stage = 'active'
GROUP BY e.experiment_id, e.name
ORDER BY MAX(r.start_time) DESC
LIMIT {MOST_RECENT}
"""


def recent_experiments(backend_store_uri: str) -> list[ExperimentRuns]:
    """The experiments with runs, the most recent run first, at most MOST_RECENT; [] when the
    store is not there yet, or is not a SQL store nnlab can read (it then links to none)."""
    try:
        database = sqlite_database(backend_store_uri)
        if database is not None:
            # Read-only: a missing database is not created.
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
                rows = connection.execute(_QUERY).fetchall()
        else:
            import sqlalchemy

            engine = sqlalchemy.create_engine(backend_store_uri)
            try:
                with engine.connect() as connection:
                    rows = connection.execute(sqlalchemy.text(_QUERY)).fetchall()
            finally:
                engine.dispose()
    except Exception:  # any store it cannot read: the links are a convenience
        return []
    return [ExperimentRuns(str(row[0]), str(row[1]), int(row[2] or 0), bool(row[3]))
            for row in rows]


def runs_page_lines(base_url: str, backend_store_uri: str) -> list[str]:
    """What `nnlab.ui` and `nnlab.server` print under their URL: a link per recent experiment."""
    return [f"Runs of experiment '{e.name}' ({e.runs} run{'s' if e.runs != 1 else ''}): "
            f"{runs_page(base_url, e.experiment_id, e.has_view)}"
            for e in recent_experiments(backend_store_uri)]
