"""A SQLite store's file: a new one is a copy of the cached empty store of this MLflow version,
and every store is opened in write-ahead-log mode. Real MLflow, stores in temp dirs."""

import sqlite3
from contextlib import closing
from pathlib import Path

import mlflow
import pytest
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
