"""Where a run's numbers came from, and how a sweep is shown: the environment, the checkout and
its uncommitted changes in the code version, the arms, the MLflow UI's runs view and links."""

import json
import sqlite3
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import store_client

from nnlab import contract, environment, schema
from nnlab.harness import sweep
from nnlab.tracking import views


def test_the_environment_names_every_library_the_blas_and_the_machine():
    env = environment.describe()
    assert set(environment.KEYS) <= env.keys()
    assert env["numpy"] and env["python"].split()[0] in ("CPython", "PyPy")
    # The runs train on one BLAS thread, whatever this process is allowed.
    assert env["blas_threads"] in ("1", "unknown")
    assert env["blas"] != "unknown" and env["blas_version"] != "unknown"
    assert all(isinstance(env[key], str) for key in environment.KEYS)
    json.dumps(env)  # environment.json


def test_environment_tags_read_back_as_the_environment_and_differences_name_the_key():
    env = environment.current()
    tags = environment.tags(env)
    assert all(key.startswith("nnlab.env.") for key in tags)
    logged = environment.from_tags(tags | {"mlflow.runName": "relu-s0"})
    assert environment.differences(logged, env) == []
    older = logged | {"numpy": "1.26.4", "blas_kernel": "Haswell"}
    assert environment.differences(older, env) == [
        f"numpy: logged 1.26.4, here {env['numpy']}",
        f"blas_kernel: logged Haswell, here {env['blas_kernel']}"]
    assert environment.from_tags({}) == {}


def test_a_dirty_checkout_has_another_code_version_for_every_diff():
    commit = "a" * 40
    clean = contract.Checkout(commit)
    edited = contract.Checkout(commit, True, "--- a/x\n+++ b/x\n-1\n+2\n")
    edited_otherwise = contract.Checkout(commit, True, "--- a/x\n+++ b/x\n-1\n+3\n")
    versions = {contract.code_version(c) for c in (clean, edited, edited_otherwise)}
    assert len(versions) == 3
    # A clean checkout keeps the version runs logged before the diff counted (resume finds them).
    assert contract.code_version(clean) == f"{contract.package_version()}+{commit}"
    config = schema.RunConfig()
    assert schema.config_hash(config, contract.code_version(clean)) != schema.config_hash(
        config, contract.code_version(edited))
    assert clean.tags() == {contract.COMMIT_TAG: commit, contract.DIRTY_TAG: "false"}
    assert edited.tags()[contract.DIRTY_TAG] == "true"
    assert edited.tags()[contract.DIFF_DIGEST_TAG] == edited.diff_digest
    assert contract.Checkout(None).tags() == {}


def test_the_checkout_a_sweep_hands_its_jobs_is_the_one_they_record(tmp_path, monkeypatch):
    diff = tmp_path / "git_diff.patch"
    diff.write_text("--- a/nnlab/job.py\n+++ b/nnlab/job.py\n")
    monkeypatch.setenv(contract.GIT_COMMIT_ENV, "b" * 40)
    monkeypatch.setenv(contract.GIT_DIFF_ENV, str(diff))
    assert contract.checkout() == contract.Checkout("b" * 40, True, diff.read_text())
    monkeypatch.setenv(contract.GIT_DIFF_ENV, "")
    assert contract.checkout() == contract.Checkout("b" * 40)


def test_this_checkout_is_dirty_exactly_when_git_says_tracked_files_changed(monkeypatch):
    monkeypatch.delenv(contract.GIT_COMMIT_ENV, raising=False)
    root = Path(contract.__file__).parent
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                            capture_output=True, text=True)
    if status.returncode != 0:
        pytest.skip("nnlab is not a git checkout here")
    code = contract.checkout()
    assert code.dirty == bool(status.stdout.strip())
    assert bool(code.diff) == code.dirty


@pytest.mark.parametrize(("jobs", "expected"), [
    ([["seed=0", "activation=relu"], ["seed=0", "activation=sigmoid"],
      ["seed=1", "activation=relu"]],
     ["activation=relu", "activation=sigmoid", "activation=relu"]),
    ([["seed=0", "lr=0.1", "hidden=[4, 4]", "epochs=3"], ["seed=0", "lr=1.0", "hidden=[4]",
                                                           "epochs=3"]],
     ["lr=0.1 hidden=[4,4]", "lr=1.0 hidden=[4]"]),
    # Only the seed varies: one arm, the jobs' own overrides.
    ([["seed=0", "lr=0.3"], ["seed=1", "lr=0.3"]], ["lr=0.3", "lr=0.3"]),
    ([["seed=0"], ["seed=1"]], ["(defaults)", "(defaults)"]),
])
def test_an_arm_is_the_values_a_sweep_varies_without_the_seed(jobs, expected):
    assert sweep.arms(jobs) == expected


def test_a_single_run_gets_its_overrides_as_arm():
    assert sweep.single_run_arm(["activation=sigmoid", "seed=3", "experiment_name=x"]) == (
        "activation=sigmoid")
    assert sweep.single_run_arm([]) == contract.DEFAULTS_ARM


def test_the_runs_view_groups_by_arm_shows_every_run_and_the_key_metrics_first():
    key, value = views.runs_view(["test_accuracy"])
    state = json.loads(value)
    assert key == "mlflow.sharedViewState.nnlab"
    assert state["groupBy"] == {"aggregateFunction": "average",
                                "groupByKeys": [{"mode": "tag", "groupByData": "nnlab.arm"}]}
    assert state["runsHiddenMode"] == "SHOW_ALL"
    columns = state["selectedColumns"]
    assert columns[:3] == ["tags.`nnlab.arm`", "metrics.`test_accuracy`", "metrics.`test_loss`"]
    assert len(columns) == len(set(columns))


def test_the_runs_page_asks_for_the_model_training_view_and_nnlabs_runs_view():
    assert views.runs_page("http://127.0.0.1:5000", "7") == (
        "http://127.0.0.1:5000/#/experiments/7/runs?workflowType=machine_learning"
        "&viewStateShareKey=nnlab")
    assert views.runs_page("http://h:1/", "7", with_view=False) == (
        "http://h:1/#/experiments/7/runs?workflowType=machine_learning")


def _store(path: Path) -> str:
    """A store with MLflow's tables as the UI reads them: three experiments, one empty."""
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE experiments (experiment_id INTEGER, name TEXT, lifecycle_stage TEXT);
            CREATE TABLE runs (run_uuid TEXT, experiment_id INTEGER, start_time INTEGER,
                               lifecycle_stage TEXT);
            CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);
            CREATE TABLE experiment_tags (key TEXT, value TEXT, experiment_id INTEGER);
            INSERT INTO experiments VALUES (0, 'Default', 'active'), (1, 'old', 'active'),
                                           (2, 'new', 'active'), (3, 'gone', 'deleted');
            INSERT INTO runs VALUES ('a', 1, 100, 'active'), ('b', 2, 300, 'active'),
                                    ('c', 2, 200, 'active'), ('p', 2, 250, 'active'),
                                    ('d', 3, 900, 'active');
            INSERT INTO tags VALUES ('nnlab.kind', 'sweep', 'p');
            INSERT INTO experiment_tags VALUES ('mlflow.sharedViewState.nnlab', '{}', 2);
        """)
    return f"sqlite:///{path}"


def test_the_ui_links_to_the_experiments_with_runs_the_most_recent_first(tmp_path):
    uri = _store(tmp_path / "mlflow.db")
    assert views.recent_experiments(uri) == [views.ExperimentRuns("2", "new", 2, True),
                                             views.ExperimentRuns("1", "old", 1, False)]
    assert views.runs_page_lines("http://127.0.0.1:5000", uri) == [
        "Runs of experiment 'new' (2 runs): http://127.0.0.1:5000/#/experiments/2/runs?"
        "workflowType=machine_learning&viewStateShareKey=nnlab",
        "Runs of experiment 'old' (1 run): http://127.0.0.1:5000/#/experiments/1/runs?"
        "workflowType=machine_learning"]


def test_a_store_that_is_not_there_yet_gets_no_links_and_is_not_created(tmp_path):
    assert views.recent_experiments(f"sqlite:///{tmp_path / 'mlflow.db'}") == []
    assert not (tmp_path / "mlflow.db").exists()
    assert views.recent_experiments("postgresql+psycopg://nobody@/nowhere") == []


def test_runs_on_the_same_data_ending_at_once_both_log_their_dataset_input(tmp_path,
                                                                            monkeypatch):
    # MLflow's store looks a dataset up, then inserts it: two runs of one seed (two arms) that
    # end together both insert it. Each round, two threads end two runs on the same new data.
    from nnlab.tracking import store

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = store.ensure_experiment("race")
    failures = []
    for round_ in range(10):
        x = np.full((50, 1), float(round_))
        arrays = store.DatasetArrays("d", f"digest{round_}", {"x_train": x}, {"y_train": x})
        runs = [store.start_run(experiment_id, f"r{round_}-{k}", {}, {}) for k in range(2)]
        together = threading.Barrier(2)

        def end(run_id: str, arrays=arrays, together=together) -> None:
            together.wait()
            try:
                store.end_run(run_id, contract.FINISHED, {}, {}, {}, None, arrays)
            except Exception as error:  # the test reports it, the thread would swallow it
                failures.append(error)

        threads = [threading.Thread(target=end, args=(run_id,)) for run_id in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for run_id in runs:
            inputs = store_client(tmp_path).get_run(run_id).inputs
            assert inputs is not None
            (logged,) = inputs.dataset_inputs
            assert logged.dataset.digest == f"digest{round_}"
    assert failures == []
