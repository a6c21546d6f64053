"""Nothing lost, nothing counted twice: interrupted sweeps, dead workers, racing sweeps.

Real processes and real signals: the sweep runs as `python -m nnlab.run -m ...` and the test
stops it, or one of its joblib workers, by pid.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import all_runs, env_without_tracking_uri, run_nnlab, store_client

# Real nnlab processes (sweeps, servers): `make test-fast` leaves these out.
pytestmark = pytest.mark.process

SWEEP_40 = ["-m", "seed=range(20)", "activation=relu,sigmoid", "dataset.n_samples=320",
            "hydra.launcher.n_jobs=2"]
# Jobs of ~2 s of training: long enough to be caught running.
SLOW = ["dataset.n_samples=640", "dataset.n_test=200", "epochs=1000", "log_every=100"]


def _default_sigint() -> None:
    # A suite started with SIGINT ignored (a background job of a shell script: `make test &`)
    # would hand that to the sweep, which then cannot be stopped by Ctrl-C; a terminal's
    # process never has it ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_nnlab(cwd: Path, *args: str, sweep_dir: str = "multirun") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nnlab.run", *args, f"hydra.sweep.dir={cwd / sweep_dir}"],
        cwd=cwd, env=env_without_tracking_uri(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_default_sigint)


def wait_for_runs(sweep: subprocess.Popen, cwd: Path, status: str, count: int,
                  timeout: float = 120) -> None:
    """Block until the sweep's store holds `count` runs with `status`."""
    # The store exists once the sweep says where it runs; reading it earlier would race its
    # creation. Read-only SQL: a poll must not write to the store it watches.
    assert sweep.stdout is not None and sweep.stderr is not None  # both are pipes
    assert sweep.stdout.readline().startswith("nnlab: "), sweep.stderr.read()
    deadline = time.monotonic() + timeout
    with sqlite3.connect(f"file:{cwd / 'mlflow.db'}?mode=ro", uri=True) as store:
        while time.monotonic() < deadline:
            # The jobs' runs: a sweep's parent run is RUNNING from the start.
            (found,) = store.execute(
                "SELECT count(*) FROM runs WHERE status = ? AND run_uuid NOT IN "
                "(SELECT run_uuid FROM tags WHERE key = 'nnlab.kind')", (status,)).fetchone()
            if found >= count:
                return
            assert sweep.poll() is None, sweep.stderr.read()
            time.sleep(0.1)
    raise TimeoutError(f"fewer than {count} {status} runs after {timeout} s")


def workers_of(pid: int) -> list[int]:
    """The loky worker processes started by process `pid`."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid and b"LokyProcess" in cmdline:
                children.append(int(entry.name))
    return children


def test_an_interrupted_sweep_leaves_no_run_running_and_the_same_command_finishes_it(tmp_path):
    sweep = start_nnlab(tmp_path, *SWEEP_40)
    wait_for_runs(sweep, tmp_path, "FINISHED", 6)
    sweep.send_signal(signal.SIGTERM)
    _, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("nnlab: interrupted: ")
    first = Counter(run.info.status for run in all_runs(tmp_path))
    assert first["RUNNING"] == 0 and first["FINISHED"] >= 6 and first["FINISHED"] < 40

    again = run_nnlab(tmp_path, *SWEEP_40)
    assert again.returncode == 0, again.stderr
    assert f"skipped {first['FINISHED']} finished, running {40 - first['FINISHED']} " in (
        again.stdout)
    runs = all_runs(tmp_path)
    finished = [run for run in runs if run.info.status == "FINISHED"]
    hashes = Counter(run.data.tags["nnlab.config_hash"] for run in finished)
    assert len(hashes) == 40 and set(hashes.values()) == {1}
    assert {run.info.status for run in runs} <= {"FINISHED", "KILLED"}
    # A fresh store, two workers: every run in the sweep's experiment, none in "Default".
    experiment = store_client(tmp_path).get_experiment_by_name("nnlab")
    assert experiment is not None
    assert {run.info.experiment_id for run in runs} == {experiment.experiment_id}


def ctrl_c_a_running_sweep(cwd: Path) -> None:
    """Start a 6-job sweep in cwd, Ctrl-C it once a run is RUNNING; it must exit 130."""
    sweep = start_nnlab(cwd, "-m", "seed=range(6)", *SLOW)
    wait_for_runs(sweep, cwd, "RUNNING", 1)
    # A terminal sends Ctrl-C's SIGINT to the whole process group: here, to the sweep.
    sweep.send_signal(signal.SIGINT)
    _, stderr = sweep.communicate(timeout=60)
    assert sweep.returncode == 130, stderr


def test_ctrl_c_marks_the_runs_in_flight_killed(tmp_path):
    ctrl_c_a_running_sweep(tmp_path)
    statuses = Counter(run.info.status for run in all_runs(tmp_path))
    assert statuses["RUNNING"] == 0 and statuses["KILLED"] >= 1
    killed = [run for run in all_runs(tmp_path) if run.info.status == "KILLED"]
    assert {run.data.tags["nnlab.failure"] for run in killed} == {"interrupted"}


def test_a_dead_worker_fails_its_run_and_the_other_jobs_finish(tmp_path):
    sweep = start_nnlab(tmp_path, "-m", "seed=range(4)", *SLOW, "hydra.launcher.n_jobs=2")
    wait_for_runs(sweep, tmp_path, "RUNNING", 2)
    os.kill(workers_of(sweep.pid)[0], signal.SIGKILL)
    _, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 1, stderr
    runs = all_runs(tmp_path)
    died = [run for run in runs if run.info.status == "FAILED"]
    # The killed worker's run, and the one loky stopped with it.
    assert 1 <= len(died) <= 2
    assert all(run.data.tags["nnlab.failure"].startswith("worker died") for run in died)
    assert len(runs) == 4 and Counter(run.info.status for run in runs)["FINISHED"] == 4 - len(
        died)
    last_line = stderr.strip().splitlines()[-1]
    assert f"{len(died)} crashed: " in last_line and "WorkerDied: worker died" in last_line


def test_two_sweeps_started_at_once_into_a_fresh_store_both_land(tmp_path):
    size = 4
    sweeps = [start_nnlab(tmp_path, "-m", f"seed=range({size})", "dataset.n_samples=320",
                          f"experiment_name=race{k}", "hydra.launcher.n_jobs=1",
                          sweep_dir=f"sweep{k}")
              for k in (0, 1)]
    for sweep in sweeps:
        _, stderr = sweep.communicate(timeout=180)
        assert sweep.returncode == 0, stderr
    client = store_client(tmp_path)
    for k in (0, 1):
        experiment = client.get_experiment_by_name(f"race{k}")
        assert experiment is not None
        runs = client.search_runs([experiment.experiment_id])
        jobs = [run for run in runs if run.data.tags.get("nnlab.kind") != "sweep"]
        assert len(jobs) == size and {run.info.status for run in runs} == {"FINISHED"}
        assert len(runs) == size + 1  # and the sweep's parent run
    assert client.search_runs(["0"]) == []
