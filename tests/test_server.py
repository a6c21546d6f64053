"""`python -m nnlab.server`: sweeps log through a real tracking server, which keeps their runs and
artifacts; everything is read back over its REST API, as a client on another machine reads it."""

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import env_without_tracking_uri
from tracking_server import (
    DIVERGING_EXPERIMENT,
    PROXIED,
    STARTUP_TIMEOUT_S,
    Running,
    Sweeps,
    check_artifacts,
    check_diverged,
    check_lean,
    check_sweep_runs,
    check_train_loss,
    free_port,
    running,
    search_runs,
    start_on_a_taken_port,
    sweep_through,
)

from nnlab.tracking.server import basic_auth_refusal

AUTH_VARIABLES = ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_AUTH_ADMIN_USERNAME",
                  "MLFLOW_AUTH_CONFIG_PATH")

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


def test_basic_auth_without_an_admin_password_fails_with_one_line_before_any_url(tmp_path: Path):
    env = {k: v for k, v in env_without_tracking_uri().items() if k not in AUTH_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-m", "nnlab.server", "--app-name", "basic-auth",
         "--port", str(free_port())],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S,
    )

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.startswith("nnlab.server: --app-name basic-auth needs "
                                    "MLFLOW_AUTH_ADMIN_PASSWORD (the password of the admin "
                                    "user 'admin'")
    assert len(result.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def auth_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A server's directory, with none of MLflow's auth variables set."""
    for variable in AUTH_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _needs_a_password() -> bool:
    return "MLFLOW_AUTH_ADMIN_PASSWORD" in (basic_auth_refusal() or "")


def test_basic_auth_restarts_without_a_password_once_its_admin_user_exists(auth_home: Path):
    assert _needs_a_password()
    # MLflow's auth database as its first start leaves it (mlflow/server/auth/db/models.py).
    with sqlite3.connect(auth_home / "basic_auth.db") as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(255), "
                   "password_hash VARCHAR(255), is_admin BOOLEAN)")
    assert _needs_a_password()  # a failed first start leaves the tables and no user
    with sqlite3.connect(auth_home / "basic_auth.db") as db:
        db.execute("INSERT INTO users (username, password_hash, is_admin) "
                   "VALUES ('admin', 'hash', 1)")
    assert not _needs_a_password()


def test_basic_auth_takes_the_password_from_the_environment_or_mlflows_auth_config(
        auth_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "a-long-password")
    assert not _needs_a_password()
    config = auth_home / "auth.ini"
    config.write_text("[mlflow]\ndefault_permission = READ\n"
                      "database_uri = sqlite:///users.db\nadmin_username = root\n"
                      "admin_password = a-long-password\n")
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(config))
    # As MLflow reads it: a variable set, even empty, wins over the file.
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "")
    assert "'root', which MLflow creates in sqlite:///users.db" in (basic_auth_refusal() or "")
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD")
    assert not _needs_a_password()


def test_basic_auth_without_mlflows_auth_extra_says_what_to_install(
        auth_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "a-long-password")
    monkeypatch.setitem(sys.modules, "flask_wtf", None)  # what find_spec reads as not installed
    assert basic_auth_refusal() == ("--app-name basic-auth needs MLflow's auth extra, "
                                    "Flask-WTF: pip install 'nnlab[auth]'")
