"""A sweep as MLflow shows it: a parent run over the jobs' runs, each run's arm, dataset input and
environment, the report logged to the parent; resumed, crashed and interrupted sweeps."""

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import SHORT, all_runs, parent_runs, run_module, run_nnlab, store_client
from test_faults import ctrl_c_a_running_sweep

from nnlab import contract, environment
from nnlab.tracking import views

# Real nnlab processes (sweeps, servers): `make test-fast` leaves these out.
pytestmark = pytest.mark.process

OUTCOMES = [contract.COUNT_TAG_PREFIX + outcome for outcome in contract.SWEEP_OUTCOMES]


def _counts(parent) -> dict[str, int]:
    """The parent run's outcome counts that are not zero, by outcome."""
    return {key.removeprefix(contract.COUNT_TAG_PREFIX): int(value)
            for key, value in parent.data.tags.items() if key in OUTCOMES and int(value)}


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("swept")
    done = run_nnlab(cwd, "-m", "seed=0,1", "activation=relu,sigmoid", *SHORT)
    assert done.returncode == 0, done.stderr
    return cwd


def test_a_sweep_is_a_parent_run_with_its_command_overrides_counts_and_wall_time(swept):
    (parent,) = parent_runs(swept)
    sweep_id = parent.data.tags[contract.SWEEP_ID_TAG]
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == f"nnlab-{sweep_id}"
    assert parent.data.tags[contract.COMMAND_TAG].startswith(
        "python -m nnlab.run -m seed=0,1 activation=relu,sigmoid ")
    assert parent.data.params["seed"] == "0,1"
    assert parent.data.params["activation"] == "relu,sigmoid"
    assert _counts(parent) == {"finished": 4}
    assert set(OUTCOMES) <= parent.data.tags.keys()
    assert 0 < float(parent.data.tags[contract.WALL_TIME_TAG]) < 300
    assert parent.data.metrics == {}  # the runs' charts show the runs' metrics alone
    children = all_runs(swept)
    assert len(children) == 4
    assert {run.data.tags[contract.PARENT_RUN_TAG] for run in children} == {parent.info.run_id}
    assert {run.data.tags[contract.SWEEP_ID_TAG] for run in children} == {sweep_id}


def test_every_run_carries_its_arm_its_environment_and_its_checkout(swept):
    client = store_client(swept)
    here = environment.current()
    for run in all_runs(swept):
        tags = run.data.tags
        assert tags[contract.ARM_TAG] == f"activation={run.data.params['activation']}"
        assert environment.from_tags(tags) == {key: here[key] for key in environment.KEYS}
        logged = Path(client.download_artifacts(run.info.run_id, "environment.json",
                                                str(swept)))
        assert {key: json.loads(logged.read_text())[key] for key in environment.KEYS} == (
            environment.from_tags(tags))
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        if contract.COMMIT_TAG in tags:
            assert (tags[contract.DIRTY_TAG] == "true") == (contract.DIFF_ARTIFACT in artifacts)


def test_runs_on_the_same_data_show_the_same_dataset_input(swept):
    inputs = {}
    for run in all_runs(swept):
        (dataset_input,) = run.inputs.dataset_inputs
        dataset = dataset_input.dataset
        assert dataset.name == "sincos"
        assert json.loads(dataset.profile)["features_shape"]["x_test"] == [200, 1]
        inputs[run.info.run_name] = dataset.digest
    # The same seed draws the same data for both activations; another seed, other data.
    assert inputs["relu-s0"] == inputs["sigmoid-s0"] != inputs["relu-s1"] == inputs["sigmoid-s1"]


def test_the_experiment_holds_the_runs_view_the_ui_links_to(swept):
    experiment = store_client(swept).get_experiment_by_name("nnlab")
    assert experiment is not None
    key, value = views.runs_view()
    assert experiment.tags[key] == value
    (linked,) = views.recent_experiments(f"sqlite:///{swept / 'mlflow.db'}")
    assert linked == views.ExperimentRuns(experiment.experiment_id, "nnlab", 4, True)


def test_the_report_is_logged_to_the_sweeps_parent_run(swept):
    done = run_module(swept, "nnlab.report", "--out", str(swept / "reports"))
    assert done.returncode == 0, done.stderr
    (parent,) = parent_runs(swept)
    line = done.stdout.splitlines()[-1]
    assert line.startswith(f"MLflow: logged to run '{parent.info.run_name}' "
                           f"({parent.info.run_id}), the parent of sweep ")
    client = store_client(swept)
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "report")} == {
        "report/nnlab.md", "report/nnlab"}
    files = {a.path for a in client.list_artifacts(parent.info.run_id, "report/nnlab")}
    assert "report/nnlab/runs.csv" in files
    assert any(path.endswith(".png") for path in files)
    logged = Path(client.download_artifacts(parent.info.run_id, "report/nnlab.md", str(swept)))
    assert logged.read_text() == (swept / "reports" / "nnlab.md").read_text()


def test_a_resumed_sweeps_parent_lists_the_finished_runs_it_skipped(tmp_path):
    first = run_nnlab(tmp_path, "-m", "seed=0,1", *SHORT)
    assert first.returncode == 0, first.stderr
    again = run_nnlab(tmp_path, "-m", "seed=0,1,2", *SHORT)
    assert again.returncode == 0, again.stderr
    old, new = parent_runs(tmp_path)
    assert _counts(new) == {"finished": 1, "skipped": 2}
    listed = Path(store_client(tmp_path).download_artifacts(
        new.info.run_id, contract.SKIPPED_ARTIFACT, str(tmp_path)))
    with listed.open() as rows:
        skipped = list(csv.DictReader(rows))
    runs = {run.info.run_name: run for run in all_runs(tmp_path)}
    assert sorted(row["run_name"] for row in skipped) == ["s0", "s1"]
    for row in skipped:
        run = runs[row["run_name"]]
        assert row["run_id"] == run.info.run_id
        # A run has one parent: the skipped ones keep their first.
        assert run.data.tags[contract.PARENT_RUN_TAG] == old.info.run_id
    assert runs["s2"].data.tags[contract.PARENT_RUN_TAG] == new.info.run_id


def test_a_sweep_with_a_crashed_job_ends_its_parent_failed(tmp_path):
    # A real fault: where job 1 must write its artifacts there is a file, not a folder.
    (tmp_path / "multirun" / "1").mkdir(parents=True)
    (tmp_path / "multirun" / "1" / "artifacts").write_text("in the way")
    done = run_nnlab(tmp_path, "-m", "seed=0,1,2", *SHORT)
    assert done.returncode != 0
    (parent,) = parent_runs(tmp_path)
    assert parent.info.status == "FAILED"
    assert _counts(parent) == {"finished": 2, "crashed": 1}


def test_an_interrupted_sweep_ends_its_parent_killed(tmp_path):
    ctrl_c_a_running_sweep(tmp_path)
    (parent,) = parent_runs(tmp_path)
    assert parent.info.status == "KILLED"
    counts = _counts(parent)
    statuses = Counter(run.info.status for run in all_runs(tmp_path))
    assert counts.get("killed", 0) == statuses["KILLED"] >= 1
    assert counts.get("finished", 0) == statuses["FINISHED"]
    # The jobs never started left no run.
    assert counts.get("lost", 0) == 6 - sum(statuses.values())


def test_resume_never_takes_a_run_on_edited_code_for_one_on_other_code(tmp_path):
    def sweep_on(diff: str) -> str:
        # The checkout as a launching process hands it to its jobs: a commit and a diff file.
        patch = tmp_path / f"diff{len(diff)}.patch"
        patch.write_text(diff)
        env = {contract.GIT_COMMIT_ENV: "c" * 40, contract.GIT_DIFF_ENV: str(patch) if diff
               else ""}
        done = run_nnlab(tmp_path, "-m", "seed=0,1", *SHORT, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()[0]

    assert "running 2 " in sweep_on("--- a/nnlab/job.py\n+++ b/nnlab/job.py\n-1\n+2\n")
    assert "running 2 " in sweep_on("")  # clean: the runs on the edited code do not count
    assert "running 2 " in sweep_on("--- a/nnlab/job.py\n+++ b/nnlab/job.py\n-1\n+3\n+4\n")
    assert "skipped 2 finished, running 0 " in sweep_on("")
    dirty = [run for run in all_runs(tmp_path) if run.data.tags[contract.DIRTY_TAG] == "true"]
    assert len(dirty) == 4
    assert len({run.data.tags[contract.DIFF_DIGEST_TAG] for run in dirty}) == 2
