"""`python -m nnlab.server`: sweeps log through a real tracking server, which keeps their runs and
artifacts; everything is read back over its REST API, as a client on another machine reads it."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tracking_server import (
    DIVERGING_EXPERIMENT,
    PROXIED,
    Running,
    Sweeps,
    check_artifacts,
    check_diverged,
    check_lean,
    check_sweep_runs,
    check_train_loss,
    running,
    search_runs,
    start_on_a_taken_port,
    sweep_through,
)

# Real nnlab processes (sweeps, servers): `make test-fast` leaves these out.
pytestmark = pytest.mark.process


@dataclass
class Served:
    server: Running
    home: Path  # the server's working directory
    worker: Path  # where the sweeps ran
    sweeps: Sweeps


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("server").resolve()
    worker = tmp_path_factory.mktemp("worker")
    with running("nnlab.server", [], home) as server:
        yield Served(server, home, worker, sweep_through(server.base_url, worker))


def test_server_prints_its_store_its_url_and_what_workers_set(served: Served):
    url = served.server.base_url
    assert served.server.stdout.read_text().splitlines()[:2] == [
        f"MLflow tracking server for sqlite:///{served.home / 'mlflow-server.db'}, artifacts in "
        f"{served.home / 'mlflow-server-artifacts'}, at {url} (Ctrl-C to stop)",
        f"Workers log to it with: MLFLOW_TRACKING_URI={url}",
    ]


def test_sweep_through_the_server_finishes_every_run_with_its_params_and_tags(served: Served):
    done = served.sweeps.sweep
    assert done.returncode == 0, done.stderr
    assert "16 runs: 16 FINISHED" in done.stdout
    # One line per run, as with the local store: MLflow's "View run" links are not printed.
    assert "View run" not in done.stdout
    check_sweep_runs(search_runs(served.server.base_url, "nnlab"))


def test_every_step_of_train_loss_reaches_the_server(served: Served):
    check_train_loss(served.server.base_url, search_runs(served.server.base_url, "nnlab"))


def test_artifacts_download_from_the_server(served: Served):
    check_artifacts(served.server.base_url, search_runs(served.server.base_url, "nnlab"))


def test_a_diverging_run_through_the_server_is_failed_with_its_step(served: Served):
    done = served.sweeps.diverging
    assert done.returncode == 0, done.stderr
    check_diverged(search_runs(served.server.base_url, DIVERGING_EXPERIMENT))


def test_workers_keep_nothing_and_the_server_keeps_its_own_store(served: Served):
    runs = search_runs(served.server.base_url, "nnlab")
    local = {"mlflow.db", "mlartifacts", "mlruns"}
    assert not local & {path.name for path in served.worker.rglob("*")}
    assert not local & {path.name for path in served.home.iterdir()}
    assert (served.home / "mlflow-server.db").is_file()
    artifacts = served.home / "mlflow-server-artifacts"
    for run in runs:
        assert (artifacts / run.artifact_uri.removeprefix(PROXIED) / "weights.npz").is_file()


def test_server_is_one_process_with_one_worker_and_no_job_runner(served: Served):
    check_lean(served.server.process.pid)


def test_server_refuses_a_taken_port_with_one_line(tmp_path: Path):
    port, result = start_on_a_taken_port("nnlab.server", tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"nnlab.server: cannot listen on 127.0.0.1:{port}: ")
    assert len(result.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
