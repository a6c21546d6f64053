"""A sweep's runs handed from its workers to the launching process (`nnlab.tracking.handoff`):
a real Receiver on a real SQLite store, the workers' side played by this test; and a worker of
nnlab's launcher imports no MLflow."""

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import store_client
from test_unlogged import check_logged, finished_run

from nnlab import contract, liveness
from nnlab.tracking import handoff, store, unlogged


def start_of(run: unlogged.UnloggedRun) -> handoff.RunStart:
    """The run's start as its worker writes it: started 5 s before it ended."""
    return handoff.RunStart(store.ensure_experiment(run.experiment_name), run.run_name,
                            run.params, run.tags, run.timestamp - 5000)


def wait_for_status(cwd: Path, experiment_name: str, status: str, count: int) -> list:
    """The experiment's runs in `status` once there are `count` of them with their params (a run
    is created, then its params are logged: two transactions)."""
    client = store_client(cwd)
    found = client.get_experiment_by_name(experiment_name)
    assert found is not None
    deadline = time.monotonic() + 30
    while True:
        runs = [r for r in client.search_runs([found.experiment_id])
                if r.info.status == status and r.data.params]
        if len(runs) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.02)


def test_a_run_shows_running_once_it_starts_and_is_logged_whole_when_its_job_returns(
        sqlite_store: Path, experiment: str):
    run = finished_run(sqlite_store, experiment, None)
    with handoff.Receiver(sqlite_store / "handoff-a") as receiver:
        folder = handoff.job_folder(receiver.directory, 7)
        handoff.announce(folder, start_of(run))
        (running,) = wait_for_status(sqlite_store, experiment, contract.RUNNING, 1)
        assert running.data.params == run.params and running.info.run_name == run.run_name
        # Its runner is the launching process, which beats its heartbeat.
        assert liveness.recorded_runner(running.data.tags) == liveness.this_process()
        assert receiver.in_flight() == [running.info.run_id]

        handoff.hand_over(folder, run, "relu-s3 test_loss=0.3333 0.1s")
        received = receiver.log(7)
        assert received is not None and received.line == "relu-s3 test_loss=0.3333 0.1s"
        check_logged(sqlite_store, running.info.run_id, run)
        # Its times are the worker's, not those of its creation and logging here.
        logged = store_client(sqlite_store).get_run(running.info.run_id).info
        assert (logged.start_time, logged.end_time) == (run.timestamp - 5000, run.timestamp)
        assert not folder.exists() and receiver.in_flight() == []
    assert not receiver.directory.exists()


def test_a_job_that_never_started_its_run_has_nothing_to_log(sqlite_store: Path):
    with handoff.Receiver(sqlite_store / "handoff-b") as receiver:
        assert receiver.log(0) is None


def test_settling_logs_the_finished_runs_whose_returns_were_not_read_and_creates_the_started(
        sqlite_store: Path, experiment: str):
    done, training = (finished_run(sqlite_store, experiment, None, seed) for seed in (1, 2))
    with handoff.Receiver(sqlite_store / "handoff-c") as receiver:
        for idx, run in enumerate((done, training)):
            handoff.announce(handoff.job_folder(receiver.directory, idx), start_of(run))
        handoff.hand_over(handoff.job_folder(receiver.directory, 0), done, "line 0")
        settled = receiver.settle()
        assert list(settled) == [0] and settled[0].run.run_name == done.run_name
        (running,) = wait_for_status(sqlite_store, experiment, contract.RUNNING, 1)
        assert running.info.run_name == training.run_name
        (finished,) = wait_for_status(sqlite_store, experiment, contract.FINISHED, 1)
        check_logged(sqlite_store, finished.info.run_id, done)


def test_without_a_server_the_finished_runs_move_where_sync_logs_them_into_their_own_runs(
        sqlite_store: Path, experiment: str):
    run = finished_run(sqlite_store, experiment, None, 4)
    with handoff.Receiver(sqlite_store / "handoff-d") as receiver:
        folder = handoff.job_folder(receiver.directory, 3)
        handoff.announce(folder, start_of(run))
        receiver.create_started()
        run_id = receiver.run_ids[3]
        handoff.hand_over(folder, run, "line 3")
        (kept,) = receiver.keep_finished()
        assert kept.line == "line 3" and not folder.exists()
    (copy,) = unlogged.kept_runs([experiment])
    assert unlogged.read(copy).run_id == run_id
    assert unlogged.sync([experiment]) == 1
    check_logged(sqlite_store, run_id, run)


def test_a_worker_of_nnlabs_launcher_imports_no_mlflow(tmp_path: Path):
    # What a worker imports: its warm-up (the app, matplotlib), and what a job hands over with.
    probe = ("import sys\n"
             "from nnlab.harness import launch\n"
             "from nnlab.tracking import handoff, unlogged\n"
             "launch.warm_up()\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'mlflow', 'sqlalchemy'}))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
