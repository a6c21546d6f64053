"""A tracking server that dies mid-sweep: the sweep stops within a minute with one line, the runs
that had finished training are kept on disk, `python -m nnlab.sync` logs them once the server is
back, and the same command trains the rest: every config trained once. Real processes: a real
`python -m nnlab.server` killed with SIGKILL and started again on the same store and port."""

import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import SHORT, env_without_tracking_uri, run_module
from mlflow.tracking import MlflowClient
from sweep_processes import start_nnlab
from tracking_server import (
    Running,
    kill,
    progress_names,
    search_runs,
    start,
    stop,
)

from nnlab import contract
from nnlab.tracking import unlogged
from nnlab.tracking.store import same_value

# Real nnlab processes (sweeps, servers): `make test-fast` leaves these out.
pytestmark = pytest.mark.process

# 20 jobs of ~1.5 s on two workers: the server dies while two of them train.
SWEEP = ["-m", "seed=range(10)", "activation=relu,sigmoid", "dataset.n_samples=640",
         "dataset.n_test=200", "epochs=3000", "log_every=300", "hydra.launcher.n_jobs=2"]
NAMES = sorted(f"{activation}-s{seed}" for activation in ("relu", "sigmoid")
               for seed in range(10))
ARTIFACTS = {"config.yaml", "weights.npz", "environment.json", "fit.png"}
EXIT_WITHIN_S = 60
ONE_LINE = re.compile(
    r"nnlab: the tracking server (?P<url>\S+) does not answer \(gave up after \d+ s\): start "
    r"it again and run the same command(; (?P<kept>\d+) finished runs? (is|are) kept in "
    r"\./nnlab-unlogged and will be logged then \(or by python -m nnlab\.sync\))?")


@dataclass
class Died:
    """A sweep whose server was killed while a job trained."""

    returncode: int
    exit_s: float  # from the server's death to the sweep's exit
    stdout: str
    stderr: str
    kept: dict[str, unlogged.UnloggedRun]  # the kept runs as the sweep left them, by name


@dataclass
class Story:
    """Sweep 1 loses its server; nnlab.sync logs its kept runs; the same command (sweep 2) loses
    the server again; the same command (sweep 3) logs sweep 2's kept runs and runs the rest."""

    url: str
    first: Died
    sync: subprocess.CompletedProcess
    second: Died
    third: subprocess.CompletedProcess
    client: MlflowClient  # on the server, running again


def wait_for_lines(path: Path, count: int, sweep: subprocess.Popen, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while len(progress_names(path.read_text())) < count:
        assert sweep.poll() is None, path.with_suffix(".err").read_text()
        assert time.monotonic() < deadline, f"fewer than {count} runs ended in {timeout} s"
        time.sleep(0.05)


def wait_for_training(base_url: str, out: Path, sweep: subprocess.Popen,
                      timeout: float = 120) -> None:
    """Block until a job of the sweep printing to `out` has a RUNNING run with its params:
    started, and training."""
    # Its first line: `nnlab: running 20 -> experiment 'nnlab' at URL (sweep ID)`.
    sweep_id = out.read_text().split("(sweep ", 1)[1].split(")", 1)[0]
    deadline = time.monotonic() + timeout
    while not any(run.status == "RUNNING" and run.params
                  and run.tags.get(contract.SWEEP_ID_TAG) == sweep_id
                  for run in search_runs(base_url, "nnlab")):
        assert sweep.poll() is None and time.monotonic() < deadline, "no job is training"
        time.sleep(0.05)


def kill_while_training(server: Running, work: Path, name: str) -> Died:
    """The sweep (run `name` in work), its server killed once 2 of its jobs have ended and
    another is training; the kept runs read before anything syncs them."""
    sweep = start_nnlab(work, *SWEEP, own_session=True,
                        env={"MLFLOW_TRACKING_URI": server.base_url}, output=name)
    try:
        wait_for_lines(work / f"{name}.out", 2, sweep)
        wait_for_training(server.base_url, work / f"{name}.out", sweep)
    except BaseException:
        sweep.kill()
        stop(server.process)
        raise
    kill(server)
    killed = time.monotonic()
    try:
        sweep.wait(timeout=300)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    exit_s = time.monotonic() - killed
    snapshot = work / f"kept-by-{name}"
    shutil.copytree(work / contract.UNLOGGED_DIR, snapshot)
    kept = {run.run_name: run for run in map(unlogged.read, unlogged.kept_runs(where=snapshot))}
    return Died(sweep.returncode, exit_s, (work / f"{name}.out").read_text(),
                (work / f"{name}.err").read_text(), kept)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    home = tmp_path_factory.mktemp("server").resolve()  # the server's store, kept across starts
    work = tmp_path_factory.mktemp("sweep").resolve()
    server = start("nnlab.server", [], home)
    url, env = server.base_url, {"MLFLOW_TRACKING_URI": server.base_url}
    first = kill_while_training(server, work, "first")
    server = start("nnlab.server", [], home, port=server.port)
    try:
        sync = run_module(work, "nnlab.sync", env=env)
    except BaseException:
        stop(server.process)
        raise
    second = kill_while_training(server, work, "second")
    server = start("nnlab.server", [], home, port=server.port)
    try:
        third = start_nnlab(work, *SWEEP, own_session=True, env=env, output="third")
        third.wait(timeout=600)
        yield Story(url, first, sync, second, subprocess.CompletedProcess(
            third.args, third.returncode, (work / "third.out").read_text(),
            (work / "third.err").read_text()), MlflowClient(url))
    finally:
        stop(server.process)


def check_one_line(died: Died, url: str) -> None:
    assert died.returncode == 1, died.stderr
    assert died.exit_s < EXIT_WITHIN_S
    (line,) = died.stderr.strip().splitlines()
    match = ONE_LINE.fullmatch(line)
    assert match, line
    assert match["url"] == url
    assert int(match["kept"] or 0) == len(died.kept)
    assert "Traceback" not in died.stdout + died.stderr


def test_a_sweep_exits_non_zero_within_a_minute_of_its_servers_death_with_one_line(
        story: Story):
    print(f"the sweeps exited {story.first.exit_s:.1f} s and {story.second.exit_s:.1f} s after "
          "their server's death")
    check_one_line(story.first, story.url)
    check_one_line(story.second, story.url)


def test_the_runs_that_finished_training_are_kept_whole_outside_hydras_folders(story: Story):
    for died in (story.first, story.second):
        assert died.kept, died.stdout
        for name, run in died.kept.items():
            assert run.experiment_name == "nnlab" and name in NAMES
            assert run.status in (contract.FINISHED, contract.FAILED)
            assert run.params["seed"] == name.split("-s")[1]
            assert run.tags[contract.CONFIG_HASH_TAG] and run.tags[contract.SWEEP_ID_TAG]
            # 3000 epochs of 20 batches, train_loss every 300 updates and at the last.
            assert run.metrics["steps"] == 60_000 and "test_loss" in run.metrics
            steps, values = run.series[contract.TRAIN_LOSS_SERIES]
            assert steps.tolist() == [*range(0, 60_000, 300), 59_999]
            assert values.dtype == np.float64 and values.shape == steps.shape
            assert run.artifacts_dir is not None
            assert ARTIFACTS <= {path.name for path in run.artifacts_dir.iterdir()}
            with np.load(run.artifacts_dir / "weights.npz", allow_pickle=False) as weights:
                assert weights["W0"].shape == (1, 16)
            assert run.dataset is not None and run.dataset.features["x_test"].shape == (200, 1)


def logged_run_of(client: MlflowClient, run: unlogged.UnloggedRun):
    if run.run_id is not None:
        return client.get_run(run.run_id)
    experiment = client.get_experiment_by_name(run.experiment_name)
    assert experiment is not None
    (found,) = client.search_runs(
        [experiment.experiment_id],
        f"tags.`{contract.CONFIG_HASH_TAG}` = '{run.tags[contract.CONFIG_HASH_TAG]}'")
    return found


def check_logged_as_computed(client: MlflowClient, kept: dict[str, unlogged.UnloggedRun],
                             downloads: Path) -> None:
    for run in kept.values():
        logged = logged_run_of(client, run)
        assert logged.info.status == run.status and logged.info.run_name == run.run_name
        assert logged.data.params == run.params
        assert run.tags.items() | run.end_tags.items() <= logged.data.tags.items()
        for key, value in run.metrics.items():
            assert same_value(logged.data.metrics[key], value), key
        steps, values = run.series[contract.TRAIN_LOSS_SERIES]
        history = sorted(client.get_metric_history(logged.info.run_id,
                                                   contract.TRAIN_LOSS_SERIES),
                         key=lambda metric: metric.step)
        assert [(m.step, m.value) for m in history] == list(zip(steps.tolist(),
                                                                values.tolist(), strict=True))
        assert run.artifacts_dir is not None
        for path in run.artifacts_dir.iterdir():
            copy = client.download_artifacts(logged.info.run_id, path.name, str(downloads))
            assert Path(copy).read_bytes() == path.read_bytes(), path.name


def test_nnlab_sync_logs_each_kept_run_as_it_was_computed(story: Story, tmp_path: Path):
    assert story.sync.returncode == 0, story.sync.stderr
    assert story.sync.stdout.strip() == (
        f"nnlab.sync: logged {len(story.first.kept)} kept runs to {story.url}")
    check_logged_as_computed(story.client, story.first.kept, tmp_path)


def test_the_next_sweep_logs_the_kept_runs_before_it_decides_what_to_skip(story: Story,
                                                                          tmp_path: Path):
    assert story.third.returncode == 0, story.third.stderr
    lines = story.third.stdout.splitlines()
    assert lines[0] == (f"nnlab: logged {len(story.second.kept)} runs kept in ./nnlab-unlogged "
                        "(they finished while the tracking server did not answer)")
    check_logged_as_computed(story.client, story.second.kept, tmp_path)


def logged_by(died: Died) -> list[str]:
    """The runs a dead sweep logged (a job's line ends its training; a kept run's training
    ended without one, or with a line saying it was kept)."""
    return [line.split()[1] for line in died.stdout.splitlines()
            if line.startswith("[") and "(not logged" not in line]


def test_the_same_command_trains_the_rest_and_each_config_once(story: Story):
    trained = (logged_by(story.first) + list(story.first.kept) + logged_by(story.second)
               + list(story.second.kept) + progress_names(story.third.stdout))
    assert sorted(trained) == NAMES, Counter(trained)
    done = len(trained) - len(progress_names(story.third.stdout))
    assert f"skipped {done} finished, running {len(NAMES) - done} " in story.third.stdout
    experiment = story.client.get_experiment_by_name("nnlab")
    assert experiment is not None
    runs = [run for run in story.client.search_runs([experiment.experiment_id])
            if run.data.tags.get(contract.KIND_TAG) != contract.SWEEP_KIND]
    finished = Counter(run.info.run_name or "" for run in runs if run.info.status == "FINISHED")
    assert sorted(finished) == NAMES and set(finished.values()) == {1}


def test_a_server_that_takes_connections_and_never_answers_fails_a_run_within_its_wait(
        tmp_path: Path):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "nnlab.run", *SHORT, f"hydra.run.dir={tmp_path}/outputs"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**env_without_tracking_uri(), "MLFLOW_TRACKING_URI": url,
                 contract.STORE_TIMEOUT_ENV: "4"})
        elapsed = time.monotonic() - started
    print(f"a run on a silent server exited after {elapsed:.1f} s (NNLAB_STORE_TIMEOUT=4)")
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (f"nnlab: the tracking server {url} does not answer (gave up "
                                   "after 4 s): start it again and run the same command")
    assert elapsed < EXIT_WITHIN_S


def test_a_sweep_with_no_server_at_its_uri_fails_before_any_job_with_one_line(tmp_path: Path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{free.getsockname()[1]}"  # nothing listens there
        done = run_module(tmp_path, "nnlab.run", *SWEEP, f"hydra.sweep.dir={tmp_path}/multirun",
                          env={"MLFLOW_TRACKING_URI": url})
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert ONE_LINE.fullmatch(line) and "kept" not in line, line
    assert progress_names(done.stdout) == []
    assert not (tmp_path / contract.UNLOGGED_DIR).exists()
