"""`python -m nnlab.rerun RUN_ID` end to end: a real sweep into a temp store, real reruns.

Each exit code is checked in a process of its own; the other cases call the same `main` in
this process, since a process start (importing MLflow) costs several times the rerun itself.
"""

import math
import subprocess
import time
from pathlib import Path

import pytest
from conftest import SHORT, all_runs, copy_sqlite_store, run_module, run_nnlab, store_client

from nnlab import rerun

# Real nnlab processes (sweeps, servers): `make test-fast` leaves these out.
pytestmark = pytest.mark.process

# One finished run and two diverging ones: at lr 1e3 the sincos loss ends infinite (which the
# SQL store keeps as the largest float); the moons net without a penalty, at lr 1e6, ends NaN
# (its logits overflow: the softmax's shift is inf - inf). The second sweep varies nothing: its
# run's name is its seed's.
FINISHED, DIVERGED_INF, DIVERGED_NAN = "lr1.0-s0", "lr1000.0-s0", "s0"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("rerun")
    # One worker: starting one costs more than the three runs.
    done = run_nnlab(cwd, "-m", "seed=0", "lr=1.0,1e3", "activation=identity", *SHORT,
                     "hydra.launcher.n_jobs=1")
    assert done.returncode == 0, done.stderr
    done = run_nnlab(cwd, "-m", "seed=0", "lr=1e6", "recipe=moons_tutorial", "l2=0",
                     "activation=identity", "epochs=50", "log_every=1",
                     "hydra.launcher.n_jobs=1")
    assert done.returncode == 0, done.stderr
    return cwd


def _runs(cwd: Path) -> dict:
    return {run.info.run_name: run for run in all_runs(cwd)}


def _store_copy(store: Path, tmp_path: Path) -> Path:
    """The sweep's database in tmp_path, free to change; its runs' artifacts stay where they are."""
    copy_sqlite_store(store / "mlflow.db", tmp_path / "mlflow.db")
    return tmp_path


def rerun_process(cwd: Path, run_id: str) -> subprocess.CompletedProcess:
    return run_module(cwd, "nnlab.rerun", run_id, timeout=120)


def rerun_here(cwd: Path, run_id: str, monkeypatch, capsys) -> tuple[int, list[str], list[str]]:
    """`main` in this process on the store in cwd: exit code, stdout and stderr lines."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{cwd / 'mlflow.db'}")
    code = rerun.main([run_id])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_a_finished_run_reruns_identical(store):
    run = _runs(store)[FINISHED]
    done = rerun_process(store, run.info.run_id)
    assert done.returncode == 0, done.stdout + done.stderr
    # final_train_loss, test_loss, test_mse, test_mae, steps; the durations cannot reproduce.
    assert done.stdout.splitlines() == [
        f"rerun {run.info.run_id} ({FINISHED}): 5 metrics and 20 train_loss points identical"]


@pytest.mark.parametrize("name", [DIVERGED_INF, DIVERGED_NAN])
# Evaluating the diverged net overflows, in the rerun as in the run.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_a_diverged_run_reruns_identical_up_to_its_divergence_step(store, name, monkeypatch,
                                                                   capsys):
    run = _runs(store)[name]
    assert run.info.status == "FAILED"
    failure = run.data.tags["nnlab.failure"]
    step = int(failure.rsplit(" ", 1)[1])
    history = store_client(store).get_metric_history(run.info.run_id, "train_loss")
    assert len(history) == step + 1
    last = max(history, key=lambda m: m.step).value
    assert math.isnan(last) == (name == DIVERGED_NAN)
    metrics = 6 if name == DIVERGED_NAN else 5  # a classifier's: its accuracy too
    assert rerun_here(store, run.info.run_id, monkeypatch, capsys) == (0, [
        f"rerun {run.info.run_id} ({name}): {metrics} metrics and {step + 1} train_loss points "
        f"identical, {failure} as logged"], [])


def test_a_logged_metric_off_by_one_ulp_fails_naming_the_metric(store, tmp_path):
    cwd = _store_copy(store, tmp_path)
    run = _runs(cwd)[FINISHED]
    run_id, test_loss = run.info.run_id, run.data.metrics["test_loss"]
    history = {m.step: m.value for m in store_client(cwd).get_metric_history(run_id,
                                                                              "train_loss")}
    tampered = math.nextafter(test_loss, math.inf)
    later = int(time.time() * 1000) + 60_000
    # Logged later at the same step, the new values are the ones MLflow reads as latest.
    store_client(cwd).log_metric(run_id, "test_loss", tampered, timestamp=later, step=0)
    store_client(cwd).log_metric(run_id, "train_loss", history[7] * 2, timestamp=later, step=7)
    done = rerun_process(cwd, run_id)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"rerun {run_id} ({FINISHED}): differs from the logged run",
        f"  test_loss: logged {tampered!r}, recomputed {test_loss!r}",
        f"  train_loss: 1 of 20 points differ, the first at step 7: logged "
        f"{history[7] * 2!r}, recomputed {history[7]!r}",
    ]


def test_an_unknown_run_id_exits_2_with_one_line_naming_it(store):
    done = rerun_process(store, "0123456789abcdef")
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("nnlab: rerun error: no run '0123456789abcdef' in sqlite:///")
    assert line.endswith("/mlflow.db")


def test_a_run_without_config_yaml_cannot_rerun_and_says_so_in_one_line(store, tmp_path,
                                                                         monkeypatch, capsys):
    cwd = _store_copy(store, tmp_path)
    client = store_client(cwd)
    # What a crashed job leaves: a FAILED run with no artifacts.
    crashed = client.create_run(_runs(cwd)[FINISHED].info.experiment_id, run_name="crashed")
    client.set_terminated(crashed.info.run_id, status="FAILED")
    assert rerun_here(cwd, crashed.info.run_id, monkeypatch, capsys) == (2, [], [
        f"nnlab: rerun error: run {crashed.info.run_id} (crashed, FAILED) has no config.yaml "
        "to rerun from"])


def test_a_run_from_another_commit_is_noted_and_still_judged_by_its_numbers(store, monkeypatch,
                                                                            capsys):
    run = _runs(store)[FINISHED]
    logged_commit = run.data.tags["mlflow.source.git.commit"]
    # The variable through which a sweep hands its commit to its jobs stands for a checkout
    # at another commit.
    monkeypatch.setenv("NNLAB_GIT_COMMIT", "f" * 40)
    assert rerun_here(store, run.info.run_id, monkeypatch, capsys) == (0, [
        f"note: the run was trained on commit {logged_commit}, this checkout is at {'f' * 40}: a "
        "difference may come from the code",
        f"rerun {run.info.run_id} ({FINISHED}): 5 metrics and 20 train_loss points identical",
    ], [])


def test_the_environment_differences_come_first(store, tmp_path, monkeypatch, capsys):
    cwd = _store_copy(store, tmp_path)
    run = _runs(cwd)[FINISHED]
    logged_numpy = run.data.tags["nnlab.env.numpy"]
    store_client(cwd).set_tag(run.info.run_id, "nnlab.env.numpy", "1.26.0")
    store_client(cwd).set_tag(run.info.run_id, "nnlab.env.blas_kernel", "Haswell")
    code, out, err = rerun_here(cwd, run.info.run_id, monkeypatch, capsys)
    assert (code, err) == (0, [])
    assert out[:2] == [f"environment: numpy: logged 1.26.0, here {logged_numpy}",
                       f"environment: blas_kernel: logged Haswell, here "
                       f"{run.data.tags['nnlab.env.blas_kernel']}"]
    assert out[-1].endswith("5 metrics and 20 train_loss points identical")
