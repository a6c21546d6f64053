"""A SQLite store's file: a new one is a copy of the cached empty store of this MLflow version,
and every store is opened in write-ahead-log mode. Real MLflow, stores in temp dirs."""

import sqlite3
from contextlib import closing
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from nnlab.tracking import store


def _new_store(monkeypatch: pytest.MonkeyPatch, folder: Path) -> str:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    return store.ensure_experiment("nnlab")


def _journal_mode(database: Path) -> str:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute("PRAGMA journal_mode").fetchone()[0]


def test_new_stores_are_copies_of_one_cached_empty_store_each_with_its_own_folders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("first", "second"):
        _new_store(monkeypatch, tmp_path / name)
    (template,) = (tmp_path / "cache" / "nnlab").iterdir()
    assert template.name == f"mlflow-{mlflow.__version__}-sqlite-schema.db"
    for name in ("first", "second"):
        client = MlflowClient(f"sqlite:///{tmp_path / name / 'mlflow.db'}")
        experiments = {e.name: e for e in client.search_experiments()}
        assert experiments.keys() == {"Default", "nnlab"}
        assert str(tmp_path / name) in experiments["nnlab"].artifact_location
        assert _journal_mode(tmp_path / name / "mlflow.db") == "wal"
    # The template itself holds no experiment: MLflow adds the Default one as it opens a copy.
    with closing(sqlite3.connect(template)) as connection:
        assert connection.execute("SELECT COUNT(*) FROM experiments").fetchone() == (0,)


def test_without_a_cache_mlflow_builds_the_store_itself(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_folder))
    experiment_id = _new_store(monkeypatch, tmp_path / "store")
    client = MlflowClient(f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    assert client.get_experiment(experiment_id).name == "nnlab"


def _metrics_as_read(client: MlflowClient, run_id: str) -> tuple[dict, dict]:
    """A run's latest metrics and every key's history, as MLflow reads them back."""
    latest = client.get_run(run_id).data.metrics
    history = {key: sorted((m.step, m.timestamp, m.value)
                           for m in client.get_metric_history(run_id, key)) for key in latest}
    return latest, history


def test_a_runs_metrics_inserted_at_once_read_as_mlflows_log_batch_writes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    experiment_id = _new_store(monkeypatch, tmp_path)
    client = MlflowClient()
    metrics = {"test_loss": 0.25, "diverged": float("nan"), "big": float("inf"),
               "small": float("-inf")}
    # A series whose largest step is not its last point, a NaN inside it, a repeated step.
    steps, values = [0, 10, 20, 5, 20], [1.0, float("nan"), 0.5, 2.0, 0.25]
    fast = store.start_run(experiment_id, "fast", {}, {})
    store.end_run(fast, "FINISHED", metrics, {"train_loss": (steps, values)}, {"kind": "x"},
                  timestamp=1_000)
    reference = client.create_run(experiment_id).info.run_id
    client.log_batch(reference, metrics=[
        *(Metric(k, v, 1_000, 0) for k, v in metrics.items()),
        *(Metric("train_loss", v, 1_000, s) for s, v in zip(steps, values, strict=True))])
    got, want = _metrics_as_read(client, fast), _metrics_as_read(client, reference)
    assert str(got) == str(want)  # as text: NaN equals NaN
    assert client.get_run(fast).data.tags["kind"] == "x"
    assert client.get_run(fast).info.status == "FINISHED"


def test_metrics_logged_again_are_not_added_twice(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch):
    """A run logged again (a sync after an interruption) meets its own rows: the insert at once
    writes nothing and MLflow's log_batch adds what is missing only."""
    experiment_id = _new_store(monkeypatch, tmp_path)
    run_id = store.start_run(experiment_id, "again", {}, {})
    client = MlflowClient()
    client.log_batch(run_id, metrics=[Metric("train_loss", 1.0, 1_000, 0)])
    store.end_run(run_id, "FINISHED", {"test_loss": 0.5},
                  {"train_loss": ([0, 1], [1.0, 0.75])}, {}, timestamp=1_000)
    history = client.get_metric_history(run_id, "train_loss")
    assert sorted((m.step, m.value) for m in history) == [(0, 1.0), (1, 0.75)]
    assert client.get_run(run_id).data.metrics == {"train_loss": 0.75, "test_loss": 0.5}


def _history_plan(database: Path, run_id: str) -> str:
    """How SQLite reads one run's train_loss (MLflow's get_metric_history query)."""
    with closing(sqlite3.connect(database)) as connection:
        return str(connection.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM metrics WHERE run_uuid = ? AND key = ? "
            "ORDER BY timestamp, step, value", (run_id, "train_loss")).fetchall())


def test_a_sweeps_end_leaves_the_planner_reading_a_runs_history_by_its_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Without statistics SQLite reads one run's series through the metric name (every run's
    points of it); after `refresh_statistics` through the index on the run (from about six
    runs on: below that the name's rows are few)."""
    experiment_id = _new_store(monkeypatch, tmp_path)
    for name in "abcdefgh":
        run_id = store.start_run(experiment_id, name, {}, {})
        store.end_run(run_id, "FINISHED", {}, {"train_loss": (range(50), [1.0] * 50)}, {})
    by_name = "USING COVERING INDEX sqlite_autoindex_metrics_1 (key=?)"
    by_run = "USING INDEX index_metrics_run_uuid_key_step (run_uuid=? AND key=?)"
    assert by_name in _history_plan(tmp_path / "mlflow.db", run_id)
    store.refresh_statistics()
    assert by_run in _history_plan(tmp_path / "mlflow.db", run_id)
