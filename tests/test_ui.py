"""`python -m nnlab.ui`: a real MLflow server on a real store, queried over its REST API."""

import base64
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from tracking_server import (
    STARTUP_TIMEOUT_S,
    check_lean,
    free_port,
    get_json,
    running,
    start_on_a_taken_port,
)

from nnlab import contract
from nnlab.tracking import store as tracking_store
from nnlab.tracking import uri

# Real nnlab processes (sweeps, servers): `make test-fast` leaves these out.
pytestmark = pytest.mark.process

# A 1x1 PNG: what the UI must be able to show is an image logged as a file: artifact.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
EXPERIMENT = "ui-demo"


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    port: int
    store: Path
    stdout: Path
    experiment_id: str
    run_ids: set[str]


def _make_store(store: Path) -> tuple[str, set[str]]:
    """Two finished runs in the default store of `store`, each with a metric and a PNG."""
    artifacts = store / "plots"
    artifacts.mkdir()
    (artifacts / "curve.png").write_bytes(PNG)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(store)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        experiment_id = tracking_store.ensure_experiment(EXPERIMENT)
        run_ids = set()
        for seed in range(2):
            run_id = tracking_store.start_run(experiment_id, f"seed-{seed}",
                                              {"seed": str(seed)}, {})
            tracking_store.end_run(run_id, contract.FINISHED, {"loss": 1.0 / (seed + 1)}, {}, {},
                             artifacts)
            run_ids.add(run_id)
    return experiment_id, run_ids


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    store = tmp_path_factory.mktemp("store").resolve()
    experiment_id, run_ids = _make_store(store)
    with running("nnlab.ui", [], store) as ui:
        yield Server(ui.process, ui.base_url, ui.port, store, ui.stdout, experiment_id, run_ids)


def test_ui_prints_the_store_and_its_url(server: Server):
    first_line = server.stdout.read_text().splitlines()[0]
    assert first_line == (f"MLflow UI for sqlite:///{server.store / 'mlflow.db'} "
                          f"at http://127.0.0.1:{server.port} (Ctrl-C to stop)")


def test_ui_prints_the_runs_page_of_each_experiment_in_the_model_training_view(server: Server):
    # Runs logged without a sweep: no runs view of nnlab's to open with them.
    assert server.stdout.read_text().splitlines()[1] == (
        f"Runs of experiment '{EXPERIMENT}' (2 runs): http://127.0.0.1:{server.port}/#/experiments/"
        f"{server.experiment_id}/runs?workflowType=machine_learning")


def test_ui_serves_runs_of_the_default_store_on_localhost(server: Server):
    found = get_json(f"{server.base_url}/api/2.0/mlflow/runs/search",
                     {"experiment_ids": [server.experiment_id]})["runs"]

    assert {run["info"]["run_id"] for run in found} == server.run_ids
    assert all(run["data"]["metrics"][0]["key"] == "loss" for run in found)


def test_ui_finds_experiments_by_name(server: Server):
    query = urllib.parse.urlencode({"experiment_name": EXPERIMENT})
    experiment = get_json(f"{server.base_url}/api/2.0/mlflow/experiments/get-by-name?{query}")

    assert experiment["experiment"]["experiment_id"] == server.experiment_id


def test_ui_serves_file_artifacts_as_the_ui_requests_them(server: Server):
    run_id = min(server.run_ids)
    listing = get_json(f"{server.base_url}/ajax-api/2.0/mlflow/artifacts/list?run_uuid={run_id}")
    query = urllib.parse.urlencode({"path": "curve.png", "run_uuid": run_id})
    with urllib.request.urlopen(f"{server.base_url}/get-artifact?{query}", timeout=30) as response:
        content_type, body = response.headers["Content-Type"], response.read()

    assert [f["path"] for f in listing["files"]] == ["curve.png"]
    assert content_type == "image/png"
    assert body == PNG


def test_experiments_created_in_the_ui_keep_artifacts_beside_the_store(server: Server):
    created = get_json(f"{server.base_url}/api/2.0/mlflow/experiments/create",
                       {"name": "made-in-the-ui"})
    experiment = get_json(f"{server.base_url}/api/2.0/mlflow/experiments/get"
                          f"?experiment_id={created['experiment_id']}")["experiment"]

    # A file: location, not mlflow-artifacts:/, so nnlab's SQLite workers can log into it.
    root = (server.store / uri.ARTIFACTS_DIR).as_uri()
    assert experiment["artifact_location"].startswith(root)


def test_ui_is_one_server_process_with_one_worker_and_no_job_runner(server: Server):
    check_lean(server.process.pid)


def test_ui_refuses_a_taken_port_with_one_line(tmp_path: Path):
    port, result = start_on_a_taken_port("nnlab.ui", tmp_path)

    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert f"127.0.0.1:{port}" in result.stderr


def test_ui_refuses_a_tracking_uri_that_is_already_a_server(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "nnlab.ui", "--port", str(free_port())],
        cwd=tmp_path, env={**os.environ, "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"},
        capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S,
    )

    assert result.returncode != 0
    assert result.stderr.strip() == ("nnlab.ui: MLFLOW_TRACKING_URI is already a tracking server: "
                                     "open http://127.0.0.1:5000")
