"""MLflow: the one module of nnlab that imports it. It knows nothing of Hydra.

The default store is embedded: SQLite in `./mlflow.db`, artifacts beside it in `./mlartifacts/`.
`MLFLOW_TRACKING_URI` overrides it, a tracking server (`http://...`) included.
"""

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# nnlab's workers are short-lived processes: no telemetry thread in each of them.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

DEFAULT_DB = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
# MLflow's own per-request limit for metrics in one log_batch call.
METRICS_PER_BATCH = 1000
FINISHED, FAILED, KILLED = "FINISHED", "FAILED", "KILLED"


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the SQLite store in the current directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / DEFAULT_DB}"


def _client() -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri())


def local_artifact_root(uri: str) -> str | None:
    """For a local SQLite store, the artifact folder beside the database file."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / ARTIFACTS_DIR).resolve().as_uri()


def ensure_experiment(name: str) -> str:
    """The id of experiment `name`, creating the store and the experiment if missing.

    Call it once, in the process that launches the jobs, before any worker starts: workers
    that each create a fresh SQLite store corrupt it, and workers that race to create the same
    experiment put the loser's run into experiment 0.
    """
    client = _client()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=local_artifact_root(tracking_uri()))


def start_run(experiment_id: str, run_name: str, params: dict[str, str],
              tags: dict[str, str]) -> str:
    """Create a RUNNING run with its params and tags (one batched call); returns its id."""
    client = _client()
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()])
    return run.info.run_id


def end_run(
    run_id: str,
    status: str,
    metrics: dict[str, float],
    series: dict[str, tuple[Iterable[int], Iterable[float]]],
    tags: dict[str, str],
    artifacts_dir: Path | None = None,
) -> None:
    """Log final metrics, per-step series (batched) and artifacts, then close the run."""
    client = _client()
    timestamp = int(time.time() * 1000)
    rows = [Metric(k, float(v), timestamp, 0) for k, v in metrics.items() if v is not None]
    for key, (steps, values) in series.items():
        rows += [Metric(key, float(v), timestamp, int(s)) for s, v in zip(steps, values,
                                                                          strict=True)]
    for start in range(0, max(len(rows), 1), METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=rows[start:start + METRICS_PER_BATCH],
                         tags=[RunTag(k, v) for k, v in tags.items()] if start == 0 else [])
    if artifacts_dir is not None:
        client.log_artifacts(run_id, str(artifacts_dir))
    client.set_terminated(run_id, status=status)


def mark_run(run_id: str, status: str, tags: dict[str, str]) -> None:
    """Close a run that cannot log anything else (a crash, an interrupted or dead worker)."""
    client = _client()
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    client.set_terminated(run_id, status=status)


# Reading runs back (the report). Read-only: nothing below writes to the store.
SEARCH_PAGE = 1000


@dataclass(frozen=True)
class RunRecord:
    """One run as plain values: no MLflow entity leaves this module."""

    run_id: str
    run_name: str
    status: str
    start_time: int  # ms since the epoch
    end_time: int | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]  # the last value of each; per-step series: metric_histories


def find_runs(experiment_name: str) -> list[RunRecord]:
    """Every run of an experiment; LookupError naming the experiments there are if it is missing."""
    uri = tracking_uri()
    # Opening a SQLite store that is not there would create an empty one: reading writes nothing.
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise LookupError(f"no MLflow store at {uri} (run a sweep here first, or set "
                          "MLFLOW_TRACKING_URI)")
    client = _client()
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        known = ", ".join(sorted(e.name for e in client.search_experiments())) or "none"
        raise LookupError(f"no MLflow experiment '{experiment_name}' in {tracking_uri()} "
                          f"(experiments there: {known})")
    records: list[RunRecord] = []
    token = None
    while True:
        page = client.search_runs([experiment.experiment_id], max_results=SEARCH_PAGE,
                                  page_token=token)
        records += [RunRecord(run.info.run_id, run.info.run_name, run.info.status,
                              run.info.start_time, run.info.end_time, dict(run.data.params),
                              dict(run.data.tags), dict(run.data.metrics)) for run in page]
        token = page.token
        if not token:
            return records


def metric_histories(run_ids: Iterable[str], key: str) -> dict[str, list[tuple[int, float]]]:
    """Every logged (step, value) of metric `key`, per run.

    One query per run: MLflow's client has no bulk call that works on every store. On the
    SQLite store that costs about 20 ms per run of 300 steps (0.9 s for 40 runs).
    """
    client = _client()
    return {run_id: [(m.step, m.value) for m in client.get_metric_history(run_id, key)]
            for run_id in run_ids}


def download_artifacts(run_id: str, paths: Iterable[str], directory: Path) -> list[Path]:
    """Copies of a run's artifacts (paths relative to its artifact root) in directory, which
    must exist; the local store's files are copied too, so the caller may delete them."""
    client = _client()
    return [Path(client.download_artifacts(run_id, path, str(directory))) for path in paths]
