"""Shared helpers: run the real `python -m nnlab.run` in a temp dir, read the real MLflow store."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

# A sincos run of 20 steps: the harness tests exercise the machinery, not the learning.
SHORT = ["dataset.n_samples=640", "dataset.n_test=200"]


def run_nnlab(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(
        [sys.executable, "-m", "nnlab.run", *args,
         f"hydra.sweep.dir={cwd}/multirun", f"hydra.run.dir={cwd}/outputs"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def store_client(cwd: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}")


def all_runs(cwd: Path) -> list:
    client = store_client(cwd)
    experiments = client.search_experiments()
    return client.search_runs([e.experiment_id for e in experiments], max_results=10000)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
