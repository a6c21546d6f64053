"""`hydra/launcher=slurm` for real: the headline sweep as one array job on a throwaway
single-node Slurm (slurm_cluster.py), its jobs logging to a real `python -m nnlab.server`,
checked against the same sweep on the default launcher; what the launching console shows; and
a SIGTERM on the launching process, which cancels the array job.

Needs root, Debian's slurm-wlm and munge, and the `nnlab[slurm]` extra (hydra-submitit-launcher).
"""

import importlib.util
import re
import signal
import subprocess
import sys
import time
import urllib.error
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import SHORT, env_without_tracking_uri, run_nnlab
from slurm_cluster import Cluster, slurm_cluster
from tracking_server import Running, running, search_runs

from nnlab.contract import WALL_CLOCK_METRICS

HEADLINE = ["-m", "seed=0,1,2,3", "activation=relu,sigmoid", *SHORT]
NAMES = {f"{activation}-s{seed}" for activation in ("relu", "sigmoid") for seed in range(4)}
SLURM = ["hydra/launcher=slurm"]
# Jobs of ~3 s of training (~7 s with their start): long enough to be caught running.
LONG = ["epochs=3000", "log_every=100"]
PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (\S+) test_loss=\S+ \d+\.\ds$")
SACCT_WARNING = "Bypassing sacct error"
SACCT_MESSAGE = "Slurm accounting storage is disabled"  # sacct's own, on a cluster like this


@dataclass
class Swept:
    done: subprocess.CompletedProcess
    seconds: float
    experiment: str


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None:
        pytest.fail("no submitit launcher: pip install -e '.[slurm]'")
    with slurm_cluster() as started:
        yield started


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running("nnlab.server", [], tmp_path_factory.mktemp("server")) as started:
        yield started


def _env(cluster: Cluster, server: Running) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": server.base_url, **cluster.env}


@pytest.fixture(scope="module")
def sweeps(cluster: Cluster, server: Running,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Swept]:
    """The headline sweep on Slurm, then on the default launcher, each into its experiment of
    the same server, timed from the command's start to its end."""
    done = {}
    for launcher, args in (("slurm", SLURM), ("default", [])):
        experiment = f"headline-{launcher}"
        start = time.monotonic()
        finished = run_nnlab(tmp_path_factory.mktemp(launcher), *HEADLINE, *args,
                             f"experiment_name={experiment}", env=_env(cluster, server))
        done[launcher] = Swept(finished, time.monotonic() - start, experiment)
    return done


def _by_name(runs) -> dict:
    return {run.name: run for run in runs}


def test_a_slurm_sweep_logs_each_run_finished_once_in_its_experiment(sweeps, server):
    slurm = sweeps["slurm"]
    assert slurm.done.returncode == 0, slurm.done.stderr
    assert "8 runs: 8 FINISHED" in slurm.done.stdout
    runs = search_runs(server.base_url, slurm.experiment)
    assert sorted(run.name for run in runs) == sorted(NAMES)
    assert {run.status for run in runs} == {"FINISHED"}
    found = re.search(r"\(sweep (\S+)\)", slurm.done.stdout)
    assert found, slurm.done.stdout
    sweep_id = found.group(1)
    assert {run.tags["nnlab.sweep_id"] for run in runs} == {sweep_id}


def test_slurm_runs_equal_the_default_launchers(sweeps, server):
    assert sweeps["default"].done.returncode == 0, sweeps["default"].done.stderr
    slurm = _by_name(search_runs(server.base_url, sweeps["slurm"].experiment))
    default = _by_name(search_runs(server.base_url, sweeps["default"].experiment))
    assert slurm.keys() == default.keys() == NAMES
    for name, run in slurm.items():
        a = {k: v for k, v in run.metrics.items() if k not in WALL_CLOCK_METRICS}
        b = {k: v for k, v in default[name].metrics.items() if k not in WALL_CLOCK_METRICS}
        assert {"test_loss", "test_mse", "final_train_loss"} <= a.keys()
        assert a == b, name


def _progress(stdout: str) -> list[tuple[int, int, str]]:
    return [(int(m.group(1)), int(m.group(2)), m.group(3))
            for m in map(PROGRESS.match, stdout.splitlines()) if m]


@pytest.mark.parametrize("launcher", ["slurm", "default"])
def test_the_launching_console_shows_each_runs_progress_line_once(sweeps, launcher):
    progress = _progress(sweeps[launcher].done.stdout)
    assert sorted(k for k, _, _ in progress) == list(range(1, 9)), sweeps[launcher].done.stdout
    assert {total for _, total, _ in progress} == {8}
    assert {name for _, _, name in progress} == NAMES


def test_submitits_warnings_are_printed_once_on_one_line(sweeps):
    slurm = sweeps["slurm"].done
    lines = (slurm.stdout + slurm.stderr).splitlines()
    warned = [line for line in lines if SACCT_WARNING in line]
    assert len(warned) <= 1, "\n".join(warned)
    # sacct's own message is in that line, and nowhere else.
    assert [line for line in lines if SACCT_MESSAGE in line] == warned


def test_wall_times_of_the_slurm_and_the_default_launcher(sweeps, capsys):
    slurm, default = sweeps["slurm"].seconds, sweeps["default"].seconds
    with capsys.disabled():
        print(f"\nheadline sweep (8 runs) wall time: Slurm {slurm:.1f} s, default launcher "
              f"{default:.1f} s ({slurm / default:.1f}x)")
    assert slurm > 0 and default > 0


def _statuses(server: Running, experiment: str) -> Counter:
    try:
        return Counter(run.status for run in search_runs(server.base_url, experiment))
    except urllib.error.HTTPError:  # the sweep has not created its experiment yet
        return Counter()


def test_sigterm_cancels_the_array_job_and_the_same_command_finishes_the_rest(
        cluster, server, tmp_path):
    experiment = "interrupted"
    args = [*HEADLINE, *LONG, *SLURM, f"experiment_name={experiment}"]
    env = {**env_without_tracking_uri(), **_env(cluster, server)}
    sweep = subprocess.Popen(
        [sys.executable, "-m", "nnlab.run", *args, f"hydra.sweep.dir={tmp_path / 'multirun'}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _statuses(server, experiment)["RUNNING"] < 1:
        assert sweep.poll() is None, sweep.communicate()
        assert time.monotonic() < deadline, "no run RUNNING within 120 s"
        time.sleep(0.2)

    sweep.send_signal(signal.SIGTERM)
    _, stderr = sweep.communicate(timeout=120)
    stopped = time.monotonic()
    assert sweep.returncode == 130, stderr
    said = [line for line in stderr.splitlines() if line.startswith("nnlab: interrupted: ")]
    assert len(said) == 1 and "marked KILLED" in said[0], stderr
    while (queued := cluster.queue()) and time.monotonic() < stopped + 5:
        time.sleep(0.2)
    assert queued == [], f"jobs still queued 5 s after the sweep stopped: {queued}"
    runs = search_runs(server.base_url, experiment)
    first = Counter(run.status for run in runs)
    assert first["RUNNING"] == 0 and first["KILLED"] >= 1 and first["FINISHED"] < 8, first
    assert {run.tags["nnlab.failure"] for run in runs if run.status == "KILLED"} == {
        "interrupted"}

    again = run_nnlab(tmp_path, *args, env=_env(cluster, server))
    assert again.returncode == 0, again.stderr
    assert f"running {8 - first['FINISHED']} " in again.stdout
    runs = search_runs(server.base_url, experiment)
    finished = Counter(run.name for run in runs if run.status == "FINISHED")
    assert finished.keys() == NAMES and set(finished.values()) == {1}
    assert {run.status for run in runs} <= {"FINISHED", "KILLED"}
    # The sweep ends once it has read the last result; that job's process may still be exiting.
    ended = time.monotonic()
    while (queued := cluster.queue()) and time.monotonic() < ended + 10:
        time.sleep(0.2)
    assert queued == [], f"jobs still queued 10 s after the sweep ended: {queued}"

