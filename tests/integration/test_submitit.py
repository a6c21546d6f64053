"""A sweep through submitit (the `nnlab[slurm]` extra), on its local executor: the path a Slurm
sweep takes (each job pickled, run by a fresh process, its output in the sweep's .submitit/
folder), checked against the same sweep on the default launcher. Real processes, real MLflow."""

import os
import re
import signal
import time
from pathlib import Path

import pytest
from conftest import SHORT, all_runs, parent_runs, run_nnlab, store_client
from sweep_processes import SLOW, start_nnlab, wait_for_runs

from nnlab.contract import WALL_CLOCK_METRICS

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")

SWEEP = ["-m", "seed=0,1", "activation=relu,sigmoid", *SHORT]
NAMES = {"relu-s0", "relu-s1", "sigmoid-s0", "sigmoid-s1"}


def _by_name(runs) -> dict:
    return {run.info.run_name: run for run in runs}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[str, tuple[Path, object]]:
    done = {}
    for launcher, args in (("submitit", ["hydra/launcher=local_submitit"]), ("default", [])):
        cwd = tmp_path_factory.mktemp(launcher)
        done[launcher] = cwd, run_nnlab(cwd, *SWEEP, *args)
    return done


def test_local_submitit_sweep_logs_one_finished_run_per_seed_and_activation(sweeps):
    cwd, done = sweeps["submitit"]
    assert done.returncode == 0, done.stderr
    assert "4 runs: 4 FINISHED" in done.stdout
    runs = all_runs(cwd)
    assert set(_by_name(runs)) == NAMES and len(runs) == 4
    assert {run.info.status for run in runs} == {"FINISHED"}
    # The launching process made the experiment and the sweep id; each job got them as env.
    experiment = store_client(cwd).get_experiment_by_name("nnlab")
    assert experiment is not None
    assert {run.info.experiment_id for run in runs} == {experiment.experiment_id}
    found = re.search(r"\(sweep (\S+)\)", done.stdout)
    assert found, done.stdout
    sweep_id = found.group(1)
    assert {run.data.tags["nnlab.sweep_id"] for run in runs} == {sweep_id}


def test_each_jobs_progress_line_is_in_its_submitit_log(sweeps):
    cwd, _ = sweeps["submitit"]
    logs = (cwd / "multirun" / ".submitit").glob("*/*_log.out")
    progress = [line for log in logs for line in log.read_text().splitlines()
                if re.match(r"\[\d/4\] ", line)]
    assert {line.split()[1] for line in progress} == NAMES and len(progress) == 4


def test_local_submitit_runs_equal_the_default_launchers(sweeps):
    (submitit_cwd, _), (default_cwd, default_done) = sweeps["submitit"], sweeps["default"]
    assert default_done.returncode == 0, default_done.stderr
    submitit, default = _by_name(all_runs(submitit_cwd)), _by_name(all_runs(default_cwd))
    assert submitit.keys() == default.keys()
    for name, run in submitit.items():
        assert run.data.tags["nnlab.config_hash"] == default[name].data.tags["nnlab.config_hash"]
        a = {k: v for k, v in run.data.metrics.items() if k not in WALL_CLOCK_METRICS}
        b = {k: v for k, v in default[name].data.metrics.items() if k not in WALL_CLOCK_METRICS}
        assert {"test_loss", "test_mse", "final_train_loss"} <= a.keys()
        assert a == b, name


@pytest.mark.process
def test_jobs_outlive_their_killed_launching_process_and_only_its_parent_run_is_closed(tmp_path):
    # Jobs of ~5 s: in flight when their launching process is killed, and after.
    sweep = start_nnlab(tmp_path, "-m", "seed=0,1", "hydra/launcher=local_submitit", *SLOW,
                        "epochs=3000", own_session=True)
    wait_for_runs(sweep, tmp_path, "RUNNING", 2)
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.communicate(timeout=30)
    # Another sweep into the experiment closes what is lost there: the dead sweep's parent run.
    other = run_nnlab(tmp_path, "-m", "seed=5,6", *SHORT, "hydra.launcher.n_jobs=1")
    assert other.returncode == 0, other.stderr
    assert "nnlab: closed 1 lost run(s) (their process is gone: nnlab-" in other.stdout
    deadline = time.monotonic() + 120
    while any(run.info.status == "RUNNING" for run in all_runs(tmp_path)):
        assert time.monotonic() < deadline, "the submitit jobs never ended"
        time.sleep(0.5)
    assert {run.info.status for run in all_runs(tmp_path)} == {"FINISHED"}
    dead, _ = parent_runs(tmp_path)
    assert dead.info.status == "FAILED" and dead.data.tags["nnlab.lost"] == "true"
