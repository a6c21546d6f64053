"""`python -m nnlab.server --app-name basic-auth`: MLflow's users and passwords in front of the
server; a worker with the credentials the server's banner names logs a whole run, artifacts
included, and a client without them is refused.

Needs MLflow's auth extra (Flask-WTF): `pip install -e '.[auth]'`.
"""

import base64
import importlib.util
import io
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import SHORT, run_nnlab
from tracking_server import PROXIED, Running, running

ADMIN = "admin"  # the admin user MLflow's default auth config creates on the first start


@dataclass
class Secured:
    server: Running
    password: str


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    if importlib.util.find_spec("flask_wtf") is None:
        pytest.fail("no MLflow auth extra (Flask-WTF): pip install -e '.[auth]'")
    password = secrets.token_urlsafe(16)
    with running("nnlab.server", ["--app-name", "basic-auth"],
                 tmp_path_factory.mktemp("server"),
                 env={"MLFLOW_AUTH_ADMIN_PASSWORD": password}) as server:
        yield Secured(server, password)


def _get(url: str, password: str | None = None) -> bytes:
    request = urllib.request.Request(url)
    if password is not None:
        token = base64.b64encode(f"{ADMIN}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def test_banner_tells_workers_to_set_their_credentials(secured: Secured):
    banner = secured.server.stdout.read_text().splitlines()
    assert "MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD" in banner[2]


def test_a_client_without_credentials_is_refused(secured: Secured):
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(f"{secured.server.base_url}/api/2.0/mlflow/experiments/search?max_results=1")
    assert refused.value.code == 401


def test_a_worker_with_credentials_logs_a_run_and_its_artifacts(secured: Secured, tmp_path):
    base_url = secured.server.base_url
    done = run_nnlab(tmp_path, *SHORT, env={"MLFLOW_TRACKING_URI": base_url,
                                             "MLFLOW_TRACKING_USERNAME": ADMIN,
                                             "MLFLOW_TRACKING_PASSWORD": secured.password})
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split("(run ", 1)[1].split(" ", 1)[0]

    run = json.loads(_get(f"{base_url}/api/2.0/mlflow/runs/get?run_id={run_id}",
                          secured.password))["run"]["info"]
    assert run["status"] == "FINISHED"
    assert run["artifact_uri"].startswith(PROXIED)
    weights = _get(f"{base_url}/api/2.0/mlflow-artifacts/artifacts/"
                   f"{run['artifact_uri'].removeprefix(PROXIED)}/weights.npz", secured.password)
    with np.load(io.BytesIO(weights), allow_pickle=False) as archive:
        assert archive["W0"].shape == (1, 16)
