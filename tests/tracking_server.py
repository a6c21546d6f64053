"""A real MLflow server in tests: started as a user starts it, read over its REST API with urllib
alone (what any client sees), stopped as Ctrl-C stops it, with no process left behind.

Also the sweep that the tracking-server tests send through it, and the checks of what it
recorded: `test_server.py` (SQLite) and `integration/test_postgres.py` share them.
"""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import SHORT, env_without_tracking_uri, run_nnlab

STARTUP_TIMEOUT_S = 60
PROXIED = "mlflow-artifacts:/"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

SWEEP = ["-m", "seed=range(8)", "activation=relu,sigmoid", "hydra.launcher.n_jobs=2", *SHORT]
SWEEP_NAMES = sorted(f"{activation}-s{seed}" for activation in ("relu", "sigmoid")
                     for seed in range(8))
# Its own experiment: the sweep and this run start together and must not race to create one.
DIVERGING_EXPERIMENT = "diverging"
DIVERGING = ["lr=1e6", "activation=identity", f"experiment_name={DIVERGING_EXPERIMENT}", *SHORT]


@dataclass
class Running:
    process: subprocess.Popen
    base_url: str
    port: int
    stdout: Path


@dataclass
class Sweeps:
    sweep: subprocess.CompletedProcess
    diverging: subprocess.CompletedProcess


@dataclass
class RunInfo:
    """A run as the REST API returns it, its lists of key-value pairs made dicts."""

    run_id: str
    name: str
    status: str
    artifact_uri: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def group_members(pgid: int) -> list[str]:
    """Command lines of the live processes in process group `pgid` (Linux /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the command name, which may itself contain spaces and parentheses.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(cmdline.replace(b"\0", b" ").decode())
    return members


def check_lean(pid: int) -> None:
    """The server started as `pid` is one CLI process and one worker, with no job runner."""
    members = group_members(pid)
    assert len(members) == 2, members
    assert not [m for m in members if "huey" in m or "_job_runner" in m], members


def start_on_a_taken_port(module: str, cwd: Path) -> tuple[int, subprocess.CompletedProcess]:
    """`python -m module --port P` while P is taken: the port and how the command ended."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        return port, subprocess.run(
            [sys.executable, "-m", module, "--port", str(port)],
            cwd=cwd, env=env_without_tracking_uri(), capture_output=True, text=True,
            timeout=STARTUP_TIMEOUT_S,
        )


def get_json(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def get_bytes(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def wait_for_health(process: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"no /health answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C as a terminal sends it (to the whole group), then check nothing is left."""
    # A server that failed to start has no group left to signal.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail("the server ignored Ctrl-C for 30 s")
    deadline = time.monotonic() + 10
    while (left := group_members(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes left after Ctrl-C: {left}"


def start(module: str, args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None,
          port: int | None = None) -> Running:
    """`python -m module --port PORT args` in cwd (MLFLOW_TRACKING_URI unset, `env` set), on
    `port` (default: a free one), answering /health. Started again in the same cwd, a server
    opens the same store."""
    port = port or free_port()
    stdout, stderr = cwd / f"{module}.out", cwd / f"{module}.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        # Own session: the teardown's Ctrl-C reaches the server's whole tree and nothing else.
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port), *args],
            cwd=cwd, env={**env_without_tracking_uri(), **(env or {})},
            stdout=out, stderr=err, start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(process, base_url, stderr)
    except BaseException:
        stop(process)
        raise
    return Running(process, base_url, port, stdout)


def kill(server: Running) -> None:
    """The server dies at once, as in a crash (SIGKILL to its whole group); none of its
    processes is left, and its port is free for a new one."""
    with suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while (left := group_members(server.process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes left after SIGKILL: {left}"


@contextmanager
def running(module: str, args: Sequence[str], cwd: Path,
            env: Mapping[str, str] | None = None) -> Iterator[Running]:
    """`start`, stopped on exit."""
    server = start(module, args, cwd, env)
    try:
        yield server
    finally:
        stop(server.process)


def sweep_through(base_url: str, cwd: Path) -> Sweeps:
    """The 16-run sweep and, beside it, one diverging run, both logging to the server."""
    (cwd / "single").mkdir()
    with ThreadPoolExecutor(1) as pool:
        diverging = pool.submit(run_nnlab, cwd / "single", *DIVERGING,
                                env={"MLFLOW_TRACKING_URI": base_url})
        sweep = run_nnlab(cwd, *SWEEP, env={"MLFLOW_TRACKING_URI": base_url})
    return Sweeps(sweep, diverging.result())


def search_runs(base_url: str, experiment_name: str) -> list[RunInfo]:
    query = urllib.parse.urlencode({"experiment_name": experiment_name})
    experiment = get_json(f"{base_url}/api/2.0/mlflow/experiments/get-by-name?{query}")
    found = get_json(f"{base_url}/api/2.0/mlflow/runs/search",
                     {"experiment_ids": [experiment["experiment"]["experiment_id"]],
                      "max_results": 1000})
    return [RunInfo(run["info"]["run_id"], run["info"]["run_name"], run["info"]["status"],
                    run["info"]["artifact_uri"],
                    {p["key"]: p["value"] for p in run["data"].get("params", [])},
                    {t["key"]: t["value"] for t in run["data"].get("tags", [])},
                    {m["key"]: m["value"] for m in run["data"].get("metrics", [])})
            for run in found.get("runs", [])
            # The jobs' runs: the sweep's parent run aside.
            if {"key": "nnlab.kind", "value": "sweep"} not in run["data"].get("tags", [])]


def check_sweep_runs(runs: list[RunInfo]) -> None:
    """One FINISHED run per job, with its params and tags, its artifacts kept by the server."""
    assert sorted(run.name for run in runs) == SWEEP_NAMES
    assert {run.status for run in runs} == {"FINISHED"}
    assert len({run.tags["nnlab.sweep_id"] for run in runs}) == 1
    assert len({run.tags["nnlab.config_hash"] for run in runs}) == len(SWEEP_NAMES)
    for run in runs:
        activation, seed = run.name.split("-s")
        assert run.params["activation"] == activation and run.params["seed"] == seed
        assert run.params["dataset.name"] == "sincos" and run.params["hidden"] == "[16]"
        assert run.metrics["steps"] == 20
        assert run.artifact_uri.startswith(PROXIED), run.artifact_uri


def check_train_loss(base_url: str, runs: list[RunInfo]) -> None:
    """Every step of every run's train_loss series is there."""
    for run in runs:
        query = urllib.parse.urlencode({"run_id": run.run_id, "metric_key": "train_loss"})
        history = get_json(f"{base_url}/api/2.0/mlflow/metrics/get-history?{query}")["metrics"]
        assert sorted(m["step"] for m in history) == list(range(20)), run.name


def check_artifacts(base_url: str, runs: list[RunInfo]) -> None:
    """Each run's four files download through the server, as a worker elsewhere gets them."""
    for run in runs:
        root = f"{base_url}/api/2.0/mlflow-artifacts/artifacts"
        path = run.artifact_uri.removeprefix(PROXIED)
        listing = get_json(f"{root}?{urllib.parse.urlencode({'path': path})}")
        # And the diff of the checkout, when it had uncommitted changes.
        assert {f["path"] for f in listing["files"]} - {"git_diff.patch"} == {
            "config.yaml", "weights.npz", "fit.png", "environment.json"}, run.name
        with np.load(io.BytesIO(get_bytes(f"{root}/{path}/weights.npz")),
                     allow_pickle=False) as weights:
            assert weights["W0"].shape == (1, 16) and weights["W1"].shape == (16, 2)
        config = yaml.safe_load(get_bytes(f"{root}/{path}/config.yaml"))
        assert config["seed"] == int(run.params["seed"])
        assert get_bytes(f"{root}/{path}/fit.png").startswith(PNG_SIGNATURE)


def check_diverged(runs: list[RunInfo]) -> None:
    """The diverging run is FAILED, saying at which step."""
    assert len(runs) == 1
    assert runs[0].status == "FAILED"
    assert runs[0].tags["nnlab.failure"].startswith("diverged at step ")


def progress_names(stdout: str) -> list[str]:
    """The run names of a sweep's `[k/N] NAME ...` lines (a job's line once it has ended)."""
    return [line.split()[1] for line in stdout.splitlines() if line.startswith("[")]
