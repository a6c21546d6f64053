"""No run RUNNING for ever, no worker outliving its sweep: sweeps killed with SIGKILL.

The liveness rule is a pure function, tested case by case; the rest with real processes and
real signals into a real store (tests/sweep_processes.py starts and finds them).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest
from conftest import SHORT, all_runs, parent_runs, run_module, run_nnlab, store_client
from sweep_processes import (
    SLOW,
    kill_session,
    start_nnlab,
    still_running,
    sweep_processes,
    wait_for_runs,
    workers_of,
)

from nnlab import contract, liveness
from nnlab.constraints import ConfigError

HERE = "this-host"
NOW = 1_000_000.0
GRACE = 90.0
LIVE_PIDS = {100: "5000"}  # pid -> its start time, on HERE


def _alive(runner: liveness.Runner | None, heartbeat: float = NOW) -> bool:
    return liveness.is_alive(runner, heartbeat, NOW, this_host=HERE, start_of=LIVE_PIDS.get,
                             grace=GRACE)


def test_a_run_on_this_host_is_lost_at_once_when_its_pid_is_gone():
    assert not _alive(liveness.Runner(HERE, 101, "5000"))


def test_a_run_on_this_host_is_lost_at_once_when_its_pid_is_another_process_now():
    assert not _alive(liveness.Runner(HERE, 100, "4999"))


def test_a_run_on_this_host_whose_process_runs_is_alive_however_old_its_heartbeat():
    assert _alive(liveness.Runner(HERE, 100, "5000"), heartbeat=NOW - 10 * GRACE)
    # A system without /proc says only that the pid runs.
    assert _alive(liveness.Runner(HERE, 100, ""), heartbeat=NOW - 10 * GRACE)


def test_a_run_on_another_host_is_alive_while_its_heartbeat_is_fresh():
    # Its pid means nothing here, alive or not.
    assert _alive(liveness.Runner("other-host", 101, "1"), heartbeat=NOW - GRACE)
    assert _alive(liveness.Runner("other-host", 100, "1"), heartbeat=NOW - 1)


def test_a_run_on_another_host_is_lost_once_its_heartbeat_is_older_than_the_grace():
    assert not _alive(liveness.Runner("other-host", 100, "5000"), heartbeat=NOW - GRACE - 1)


def test_a_run_that_does_not_say_who_runs_it_is_judged_by_its_last_sign_of_life():
    assert _alive(None, heartbeat=NOW - 1) and not _alive(None, heartbeat=NOW - GRACE - 1)
    start_ms = int((NOW - 5) * 1000)
    assert liveness.last_sign_of_life({}, start_ms) == NOW - 5
    assert liveness.last_sign_of_life({contract.HEARTBEAT_TAG: str(int(NOW))}, start_ms) == NOW
    assert liveness.recorded_runner({contract.PID_TAG: "x", contract.HOST_TAG: HERE}) is None


def test_the_runner_tags_say_who_runs_a_run_and_read_back_as_the_same_runner():
    runner = liveness.this_process()
    assert runner.host == socket.gethostname() and runner.pid == os.getpid()
    tags = liveness.runner_tags(runner, NOW)
    assert liveness.recorded_runner(tags) == runner
    assert liveness.run_is_alive(tags, int(NOW * 1000), NOW)
    assert tags[contract.HEARTBEAT_TAG] == str(int(NOW))


def test_a_pid_whose_process_has_exited_has_no_start_time():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert liveness.process_start(child.pid) is None
    assert (liveness.process_start(os.getpid()) or "").isdigit()


def test_the_heartbeat_interval_comes_from_the_environment_and_a_bad_one_names_the_variable(
        monkeypatch):
    monkeypatch.setenv(contract.HEARTBEAT_ENV, "0.5")
    assert liveness.heartbeat_s() == 0.5 and liveness.grace_s() == 1.5
    for bad in ("abc", "0", "-1", "inf"):
        monkeypatch.setenv(contract.HEARTBEAT_ENV, bad)
        with pytest.raises(ConfigError, match=f"^{contract.HEARTBEAT_ENV}={bad} is invalid; "
                                              "allowed: a positive number of seconds"):
            liveness.heartbeat_s()


def test_the_heartbeat_beats_while_its_block_runs():
    beats = []
    with liveness.heartbeat(lambda: beats.append(1), 0.01):
        deadline = time.monotonic() + 30
        while len(beats) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(beats) >= 2


# The sweeps below: 4 jobs of ~2 s on 2 workers.
SWEEP = ["-m", "seed=range(4)", *SLOW, "hydra.launcher.n_jobs=2"]


@pytest.mark.process
def test_a_sweep_killed_whole_leaves_lost_runs_and_the_same_command_closes_them(tmp_path):
    sweep = start_nnlab(tmp_path, *SWEEP, own_session=True)
    wait_for_runs(sweep, tmp_path, "RUNNING", 1)
    kill_session(sweep)
    killed = {run.info.run_id for run in all_runs(tmp_path) if run.info.status == "RUNNING"}
    assert killed

    again = run_nnlab(tmp_path, *SWEEP)
    assert again.returncode == 0, again.stderr
    # The killed sweep's runs in flight, and its parent run.
    assert f"nnlab: closed {len(killed) + 1} lost run(s) (their process is gone: " in (
        again.stdout)
    runs = all_runs(tmp_path)
    finished = Counter(run.data.tags[contract.CONFIG_HASH_TAG] for run in runs
                       if run.info.status == "FINISHED")
    assert len(finished) == 4 and set(finished.values()) == {1}
    for run in runs:
        if run.info.run_id in killed:
            assert run.info.status == "FAILED"
            assert run.data.tags[contract.LOST_TAG] == "true"
            assert run.data.tags[contract.FAILURE_TAG] == contract.LOST_FAILURE
            assert run.info.end_time >= run.info.start_time
    dead, resumed = parent_runs(tmp_path)
    assert dead.info.status == "FAILED" and dead.data.tags[contract.LOST_TAG] == "true"
    assert resumed.info.status == "FINISHED"
    assert resumed.data.tags[contract.COUNT_TAG_PREFIX + "lost"] == "0"
    assert {run.info.status for run in [*runs, dead, resumed]} <= {"FINISHED", "FAILED"}


@pytest.mark.process
def test_the_workers_of_a_sweep_end_within_seconds_of_its_launching_process(tmp_path):
    sweep = start_nnlab(tmp_path, *SWEEP, own_session=True)
    try:
        wait_for_runs(sweep, tmp_path, "RUNNING", 1)
        started = sweep_processes(tmp_path)
        workers = workers_of(sweep.pid)
        # The launching process, its workers and joblib's resource trackers.
        assert sweep.pid in started and len(workers) == 2 and set(workers) <= set(started)
        assert len(started) >= 4
        os.kill(sweep.pid, signal.SIGKILL)
        sweep.communicate(timeout=30)
        deadline = time.monotonic() + 10
        while (still_running(started) or sweep_processes(tmp_path)) and (
                time.monotonic() < deadline):
            time.sleep(0.1)
        assert still_running(started) == {} and sweep_processes(tmp_path) == {}
    finally:
        # Whatever is left of the session, should the test fail.
        try:
            os.killpg(sweep.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.process
def test_a_sweep_started_beside_a_running_one_closes_none_of_its_runs(tmp_path):
    first = start_nnlab(tmp_path, "-m", "seed=0,1", *SLOW, "epochs=5000",
                        "hydra.launcher.n_jobs=2", sweep_dir="first",
                        env={contract.HEARTBEAT_ENV: "0.5"})
    wait_for_runs(first, tmp_path, "RUNNING", 2)
    # Its two workers held still (alive, their runs RUNNING) until the second sweep has
    # planned: however fast the machine, its runs are in flight meanwhile.
    workers = workers_of(first.pid)
    assert len(workers) == 2
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        second = start_nnlab(tmp_path, "-m", "seed=10,11", *SHORT, "hydra.launcher.n_jobs=1",
                             sweep_dir="second")
        assert second.stdout is not None
        # Printed once the second sweep has closed what it found lost in the experiment.
        assert second.stdout.readline().startswith("nnlab: running 2 -> ")
        assert first.poll() is None
        assert [run.info.status for run in all_runs(tmp_path)
                if run.data.params["seed"] in ("0", "1")] == ["RUNNING", "RUNNING"]
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    for sweep in (first, second):
        _, stderr = sweep.communicate(timeout=180)
        assert sweep.returncode == 0, stderr
    runs = all_runs(tmp_path)
    parents = parent_runs(tmp_path)
    assert len(runs) == 4 and {run.info.status for run in runs + parents} == {"FINISHED"}
    assert not any(contract.LOST_TAG in run.data.tags for run in runs + parents)
    # The first sweep's launching process beat its parent run's heartbeat while it ran.
    beaten = parents[0]
    assert float(beaten.data.tags[contract.HEARTBEAT_TAG]) > beaten.info.start_time / 1000 + 1


@pytest.mark.process
def test_the_report_closes_a_lost_run_and_counts_it_lost(tmp_path):
    # Runs of ~2 s (SLOW), so that the one below is caught training: the same config.
    done = run_nnlab(tmp_path, "-m", "seed=0,1", "activation=relu,sigmoid", *SLOW,
                     "hydra.launcher.n_jobs=2")
    assert done.returncode == 0, done.stderr
    (parent,) = parent_runs(tmp_path)
    # One more run of the sweep's relu arm, killed with SIGKILL while it trains.
    job = {contract.SWEEP_ID_ENV: parent.data.tags[contract.SWEEP_ID_TAG],
           contract.EXPERIMENT_ID_ENV: parent.info.experiment_id,
           contract.ARM_ENV: "activation=relu", contract.RUN_NAME_ENV: "relu-s2"}
    single = start_nnlab(tmp_path, "seed=2", "activation=relu", *SLOW, env=job)
    wait_for_runs(single, tmp_path, "RUNNING", 1, start_line=False)
    single.kill()
    single.communicate(timeout=30)
    # And a run killed as it was created, before its params: it has no config to report.
    (killed,) = [run for run in all_runs(tmp_path) if run.info.status == "RUNNING"]
    store_client(tmp_path).create_run(parent.info.experiment_id, run_name="relu-s3", tags={
        key: value for key, value in killed.data.tags.items()
        if key in (contract.SWEEP_ID_TAG, contract.HOST_TAG, contract.PID_TAG,
                   contract.PID_START_TAG, contract.HEARTBEAT_TAG)})

    report = run_module(tmp_path, "nnlab.report")
    assert report.returncode == 0, report.stderr
    assert "note: closed 2 run(s) left RUNNING by a process that is gone, as lost: " in (
        report.stderr)
    (lost,) = [run for run in all_runs(tmp_path) if run.info.run_name == "relu-s2"]
    assert lost.info.status == "FAILED" and lost.data.tags[contract.LOST_TAG] == "true"
    markdown = (tmp_path / report.stdout.split(":", 1)[0]).read_text()
    assert "| runs | 5: 4 finished, 1 lost |" in markdown
    # The per-arm table: runs, finished, diverged, crashed, lost, running, seeds.
    assert "| relu | 3 | 2 | 0 | 0 | 1 | 0 | 0–2 |" in markdown
    assert "1 run(s) were lost (the process that ran them vanished)" in markdown
    assert f"| relu-s2 | relu | 2 | lost | {contract.LOST_FAILURE} |" in markdown
