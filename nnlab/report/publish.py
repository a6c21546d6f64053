"""The report in the MLflow UI: what `write_report` wrote, logged as artifacts of the parent run
of the sweep it reports (MLflow's artifact viewer renders the markdown and its tables, and shows
the figures and runs.csv beside it).

Artifacts: `report/NAME.md`, `report/NAME/*.png`, `report/NAME/runs.csv`, the layout of the
report's folder, so that the markdown's links to its figures hold there too. Sweeps from before
nnlab made parent runs have none: their report is not logged.
"""

from dataclasses import dataclass
from pathlib import Path

from nnlab.tracking import store
from nnlab.tracking.uri import is_server, tracking_uri

ARTIFACT_DIR = "report"


@dataclass(frozen=True)
class Logged:
    """Where a report went in MLflow."""

    sweep_id: str
    run_id: str
    run_name: str
    experiment_id: str

    def where(self) -> str:
        """One line for a terminal: the run, and its artifacts page in the UI."""
        page = f"#/experiments/{self.experiment_id}/runs/{self.run_id}/artifacts"
        uri = tracking_uri()
        shown = f"{uri.rstrip('/')}/{page}" if is_server(uri) else f"{page} in python -m nnlab.ui"
        return (f"logged to run '{self.run_name}' ({self.run_id}), the parent of sweep "
                f"{self.sweep_id}, under {ARTIFACT_DIR}/: {shown}")


def to_parent_runs(experiment: str, sweep_ids: tuple[str, ...], markdown: Path,
                   folder: Path) -> list[Logged]:
    """Log the report (its markdown file and the files of its folder) to the parent run of
    each reported sweep that has one."""
    parents = store.find_sweep_parents(experiment)
    logged = []
    for sweep_id in sweep_ids:
        parent = parents.get(sweep_id)
        if parent is None:
            continue
        store.log_artifacts(parent.run_id, [markdown], ARTIFACT_DIR)
        store.log_artifacts(parent.run_id, folder, f"{ARTIFACT_DIR}/{folder.name}")
        logged.append(Logged(sweep_id, parent.run_id, parent.run_name,
                             store.experiment_id(experiment)))
    return logged
