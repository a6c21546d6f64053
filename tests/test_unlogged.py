"""Runs kept on disk when the store does not answer, and logged later (`python -m nnlab.sync`):
the round trip through a real SQLite store, no server and no process; and nnlab's bounded wait
for the store (NNLAB_STORE_TIMEOUT -> MLflow's HTTP settings)."""

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import store_client

from nnlab import contract
from nnlab.tracking import store, unlogged, waits

STEPS = np.arange(0, 300, 10)
# Values whose last bits a text format could lose, a NaN and an infinity.
TRAIN_LOSS = np.exp(-np.linspace(0.0, 3.0, STEPS.size)) / 3.0
METRICS = {"test_loss": 1 / 3, "final_train_loss": math.pi * 1e-5, "steps": 300.0,
           "dead_units_frac": float("nan"), "test_mse": 0.1 + 0.2}
ARTIFACTS = {"config.yaml": b"seed: 3\nlr: 0.1\n", "environment.json": b'{"python": "3.11"}',
             "fit.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256))}


def finished_run(where: Path, experiment: str, run_id: str | None,
                 seed: int = 3) -> unlogged.UnloggedRun:
    """A run as a worker has it when it ends: params, tags, metrics, series, files, data."""
    artifacts = where / f"artifacts-{experiment}-{seed}"
    artifacts.mkdir()
    for name, content in ARTIFACTS.items():
        (artifacts / name).write_bytes(content)
    np.savez(artifacts / "weights.npz", W0=np.full((1, 4), 1 / 3), b0=np.zeros(4))
    rng = np.random.default_rng(seed)
    dataset = store.DatasetArrays("sincos", f"digest{seed}",
                                  {"x_train": rng.normal(size=(8, 1)),
                                   "x_test": rng.normal(size=(4, 1))},
                                  {"y_train": rng.normal(size=(8, 2)),
                                   "y_test": rng.normal(size=(4, 2))})
    tags = {contract.SWEEP_ID_TAG: "20260101-000000-abcdef",
            contract.CONFIG_HASH_TAG: f"hash{seed}", contract.ARM_TAG: "activation=relu"}
    return unlogged.UnloggedRun(
        experiment, f"relu-s{seed}", run_id, contract.FINISHED,
        {"seed": str(seed), "lr": "0.1", "hidden": "[4]"}, tags,
        {"nnlab.note": "end tag"}, dict(METRICS),
        {contract.TRAIN_LOSS_SERIES: (STEPS, TRAIN_LOSS)}, 1767225600123, dataset, artifacts)


def started(run: unlogged.UnloggedRun) -> str:
    """Start the run in the store, as a worker does before it trains."""
    experiment_id = store.ensure_experiment(run.experiment_name)
    return store.start_run(experiment_id, run.run_name, run.params, run.tags)


def check_logged(cwd: Path, run_id: str, run: unlogged.UnloggedRun) -> None:
    """The store holds the run exactly as it was computed."""
    client = store_client(cwd)
    logged = client.get_run(run_id)
    assert logged.info.status == run.status and logged.info.run_name == run.run_name
    assert logged.data.params == run.params
    assert run.tags.items() | run.end_tags.items() <= logged.data.tags.items()
    assert logged.data.metrics.keys() == METRICS.keys() | {contract.TRAIN_LOSS_SERIES}
    for key, value in METRICS.items():
        assert store.same_value(logged.data.metrics[key], value), key
    history = sorted(client.get_metric_history(run_id, contract.TRAIN_LOSS_SERIES),
                     key=lambda metric: metric.step)
    assert [m.step for m in history] == STEPS.tolist()
    assert [m.value for m in history] == TRAIN_LOSS.tolist()  # bit for bit
    assert {m.timestamp for m in history} == {run.timestamp}
    assert logged.inputs is not None
    (dataset_input,) = logged.inputs.dataset_inputs
    assert dataset_input.dataset.digest == f"digest{run.params['seed']}"
    copies = cwd / f"downloaded-{run_id}"
    copies.mkdir()
    for name, content in ARTIFACTS.items():
        assert Path(client.download_artifacts(run_id, name, str(copies))).read_bytes() == content
    weights = Path(client.download_artifacts(run_id, "weights.npz", str(copies)))
    with np.load(weights, allow_pickle=False) as arrays:
        assert arrays["W0"].tolist() == [[1 / 3] * 4]


def test_a_kept_run_reads_back_as_it_was_kept(sqlite_store: Path, experiment: str):
    run = finished_run(sqlite_store, experiment, "0123456789abcdef")
    folder = unlogged.keep(run)

    assert folder == sqlite_store / contract.UNLOGGED_DIR / experiment / "relu-s3-hash3"
    back = unlogged.read(folder)
    assert (back.run_id, back.status, back.params, back.tags, back.end_tags, back.timestamp) == (
        run.run_id, run.status, run.params, run.tags, run.end_tags, run.timestamp)
    assert back.metrics.keys() == METRICS.keys()
    assert all(store.same_value(back.metrics[key], value) for key, value in METRICS.items())
    steps, values = back.series[contract.TRAIN_LOSS_SERIES]
    assert steps.tolist() == STEPS.tolist() and values.tobytes() == TRAIN_LOSS.tobytes()
    assert back.dataset is not None and run.dataset is not None
    for name, array in (run.dataset.features | run.dataset.targets).items():
        assert (back.dataset.features | back.dataset.targets)[name].tobytes() == array.tobytes()
    assert back.artifacts_dir is not None
    assert {path.name for path in back.artifacts_dir.iterdir()} == {*ARTIFACTS, "weights.npz"}
    assert unlogged.kept_runs([experiment]) == [folder]


def test_a_kept_run_with_its_run_id_is_logged_into_that_run_and_the_copy_deleted(
        sqlite_store: Path, experiment: str):
    run = finished_run(sqlite_store, experiment, None)
    run.run_id = started(run)
    unlogged.keep(run)

    assert unlogged.sync([experiment]) == 1

    check_logged(sqlite_store, run.run_id, run)
    assert unlogged.kept_runs([experiment]) == []
    assert len(store_client(sqlite_store).search_runs(
        [store.experiment_id(experiment)])) == 1


def test_a_kept_run_never_started_becomes_a_new_run_with_its_name_tags_and_params(
        sqlite_store: Path, experiment: str):
    run = finished_run(sqlite_store, experiment, None)
    unlogged.keep(run)

    assert unlogged.sync([experiment]) == 1

    (logged,) = store_client(sqlite_store).search_runs([store.experiment_id(experiment)])
    check_logged(sqlite_store, logged.info.run_id, run)


def test_a_sync_stopped_after_logging_and_run_again_logs_nothing_twice(
        sqlite_store: Path, experiment: str):
    run = finished_run(sqlite_store, experiment, None)
    run.run_id = started(run)
    folder = unlogged.keep(run)
    # The first sync logged everything, then stopped before it deleted the copy.
    store.end_run(run.run_id, run.status, run.metrics, dict(run.series), run.end_tags,
                  run.artifacts_dir, run.dataset, run.timestamp)
    assert folder.is_dir()

    assert unlogged.sync([experiment]) == 1

    check_logged(sqlite_store, run.run_id, run)
    assert len(store_client(sqlite_store).search_runs(
        [store.experiment_id(experiment)])) == 1


def test_a_sync_stopped_after_creating_the_run_finds_it_again(
        sqlite_store: Path, experiment: str):
    run = finished_run(sqlite_store, experiment, None)
    folder = unlogged.keep(run)
    # The first sync created the run (or a worker's start_run got no answer), then stopped
    # before it wrote the new id down.
    created = started(run)
    assert unlogged.read(folder).run_id is None

    assert unlogged.sync([experiment]) == 1

    (logged,) = store_client(sqlite_store).search_runs([store.experiment_id(experiment)])
    assert logged.info.run_id == created
    check_logged(sqlite_store, created, run)


def test_a_run_closed_as_failed_meanwhile_ends_as_it_was_computed(
        sqlite_store: Path, experiment: str):
    run = finished_run(sqlite_store, experiment, None)
    run.run_id = started(run)
    store.mark_run(run.run_id, contract.FAILED, {contract.FAILURE_TAG: "lost"})
    unlogged.keep(run)

    unlogged.sync([experiment])

    logged = store_client(sqlite_store).get_run(run.run_id)
    assert logged.info.status == contract.FINISHED
    assert contract.FAILURE_TAG not in logged.data.tags


def test_sync_of_some_experiments_leaves_the_others_kept(
        sqlite_store: Path, experiment: str):
    mine = finished_run(sqlite_store, experiment, None, seed=1)
    other = finished_run(sqlite_store, experiment, None, seed=2)
    other.experiment_name = f"{experiment}-other"
    unlogged.keep(mine)
    kept = unlogged.keep(other)

    assert unlogged.sync([experiment]) == 1

    assert unlogged.kept_runs([experiment, other.experiment_name]) == [kept]


def test_a_half_written_copy_is_not_taken_for_a_kept_run(
        sqlite_store: Path, experiment: str):
    folder = unlogged.keep(finished_run(sqlite_store, experiment, None))
    partial = folder.with_name(f".{folder.name}.123.partial")
    shutil.copytree(folder, partial)

    assert unlogged.kept_runs([experiment]) == [folder]


@pytest.mark.parametrize("budget", [1, 4, 10, 19.5, 20, 30, 45, 120])
def test_mlflows_http_settings_give_up_within_the_budget(budget: float):
    settings = waits.mlflow_http_settings(budget)
    retries = int(settings["MLFLOW_HTTP_REQUEST_MAX_RETRIES"])
    attempts = (retries + 1) * int(settings["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    sleeps = waits.backoffs_s(int(settings["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"]),
                              float(settings["MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"]), retries)
    assert attempts + sleeps <= max(budget, retries + 1)
    assert retries >= 1  # a server that drops one connection is asked again


def test_the_default_budget_waits_seconds_per_attempt_not_minutes():
    assert waits.mlflow_http_settings(contract.STORE_TIMEOUT_S) == {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


def test_a_users_own_mlflow_http_setting_wins(monkeypatch: pytest.MonkeyPatch):
    for variable in [*waits.mlflow_http_settings(30), waits.DERIVED_ENV]:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "77")
    monkeypatch.setenv(contract.STORE_TIMEOUT_ENV, "10")

    waits.set_mlflow_defaults()

    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "77"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "3"
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "0"


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf"])
def test_a_bad_store_timeout_names_the_variable_its_value_and_what_is_allowed(
        value: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(contract.STORE_TIMEOUT_ENV, value)
    with pytest.raises(ValueError) as raised:
        waits.store_timeout()
    assert str(raised.value) == (f"NNLAB_STORE_TIMEOUT={value!r} is not allowed: a number of "
                                 "seconds > 0 (default 30)")


def test_a_process_started_by_nnlab_derives_the_settings_again_from_its_own_budget(
        monkeypatch: pytest.MonkeyPatch):
    for variable in [*waits.mlflow_http_settings(30), waits.DERIVED_ENV]:
        monkeypatch.delenv(variable, raising=False)
    waits.set_mlflow_defaults()  # the parent, with the default budget
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "5"
    monkeypatch.setenv(contract.STORE_TIMEOUT_ENV, "4")  # the child's

    waits.set_mlflow_defaults()

    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "1"


def test_two_kept_runs_of_one_config_are_both_kept(sqlite_store: Path, experiment: str):
    run = finished_run(sqlite_store, experiment, None)
    first = unlogged.keep(run)
    second = unlogged.keep(run)

    assert second == first.with_name(f"{first.name}-2")
    assert set(unlogged.kept_runs([experiment])) == {first, second}
