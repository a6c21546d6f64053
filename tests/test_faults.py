"""Nothing lost, nothing counted twice: interrupted sweeps, dead workers, racing sweeps.

Real processes and real signals: the sweep runs as `python -m nnlab.run -m ...` and the test
stops it, or one of its joblib workers, by pid.
"""

import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from conftest import all_runs, run_nnlab, store_client
from sweep_processes import SLOW, start_nnlab, wait_for_runs, workers_of

# Real nnlab processes (sweeps, servers): `make test-fast` leaves these out.
pytestmark = pytest.mark.process

SWEEP_40 = ["-m", "seed=range(20)", "activation=relu,sigmoid", "dataset.n_samples=320",
            "hydra.launcher.n_jobs=2"]


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
