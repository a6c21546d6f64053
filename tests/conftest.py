"""Shared helpers: run the real `python -m nnlab.run` in a temp dir, read the real MLflow store."""

import itertools
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import closing
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

# A sincos run of 20 steps: the harness tests exercise the machinery, not the learning.
SHORT = ["dataset.n_samples=640", "dataset.n_test=200"]
# They need PostgreSQL and optional extras: they run only when named, `pytest tests/integration`.
collect_ignore = ["integration"]


def copy_sqlite_store(source: Path, target: Path) -> None:
    """Copy a SQLite store's database file as SQLite does: its last commits may still be in the
    write-ahead log beside it (mlflow.db-wal) while a process has it open."""
    with closing(sqlite3.connect(source)) as original, closing(sqlite3.connect(target)) as copy:
        original.backup(copy)


def env_without_tracking_uri() -> dict[str, str]:
    """This environment, less MLFLOW_TRACKING_URI: a test's store is its own directory's."""
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


def run_module(cwd: Path, module: str, *args: str, timeout: float = 300,
               env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m module args` in cwd, on the store there (MLFLOW_TRACKING_URI unset), with the
    variables `env` set on top (a tracking server's MLFLOW_TRACKING_URI, say)."""
    inherited = env_without_tracking_uri()
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd, env={**inherited, **(env or {})}, capture_output=True, text=True,
        timeout=timeout,
    )


def run_nnlab(cwd: Path, *args: str, timeout: float = 300,
              env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_module(cwd, "nnlab.run", *args, f"hydra.sweep.dir={cwd}/multirun",
                      f"hydra.run.dir={cwd}/outputs", timeout=timeout, env=env)


def store_client(cwd: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}")


def _every_run(cwd: Path) -> list:
    client = store_client(cwd)
    experiments = client.search_experiments()
    return client.search_runs([e.experiment_id for e in experiments], max_results=10000)


def all_runs(cwd: Path) -> list:
    """Every job's run in the store of cwd: the sweeps' parent runs aside (`parent_runs`)."""
    return [run for run in _every_run(cwd) if run.data.tags.get("nnlab.kind") != "sweep"]


def parent_runs(cwd: Path) -> list:
    """The sweeps' parent runs in the store of cwd, the oldest first."""
    return sorted((run for run in _every_run(cwd) if run.data.tags.get("nnlab.kind") == "sweep"),
                  key=lambda run: run.info.start_time)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


_experiments = itertools.count()


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One store for the module (creating one takes seconds); each test its own experiment."""
    where = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{where / 'mlflow.db'}")
        patch.chdir(where)
        yield where


@pytest.fixture
def experiment(sqlite_store: Path) -> str:
    return f"kept{next(_experiments)}"
