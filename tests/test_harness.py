"""The headline command end to end: real Hydra multiruns, real joblib workers, real MLflow."""

import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SHORT, all_runs, run_nnlab, store_client

from nnlab.contract import WALL_CLOCK_METRICS
from nnlab.harness import sweep
from nnlab.report import load_runs
from nnlab.tracking.store import RunRecord

# Real nnlab processes (sweeps, servers): `make test-fast` leaves these out.
pytestmark = pytest.mark.process

CONTRACT_METRICS = {"final_train_loss", "test_loss", "train_time_s", "steps", "test_mse",
                    "test_mae"}


def _by_name(runs) -> dict:
    return {run.info.run_name: run for run in runs}


@pytest.fixture(scope="module")
def headline(tmp_path_factory) -> tuple[Path, object]:
    cwd = tmp_path_factory.mktemp("headline")
    done = run_nnlab(cwd, "-m", "seed=0,1,2", "activation=relu,sigmoid", *SHORT)
    return cwd, done


def test_headline_sweep_logs_one_finished_run_per_seed_and_activation(headline):
    cwd, done = headline
    assert done.returncode == 0, done.stderr
    runs = all_runs(cwd)
    assert sorted(_by_name(runs)) == sorted(f"{a}-s{s}" for a in ("relu", "sigmoid")
                                            for s in range(3))
    assert {run.info.status for run in runs} == {"FINISHED"}
    experiment = store_client(cwd).get_experiment(runs[0].info.experiment_id)
    assert experiment.name == "nnlab"
    assert "6 runs: 6 FINISHED" in done.stdout
    assert sum(line.startswith("[") and "/6] " in line for line in done.stdout.splitlines()) == 6


def test_every_run_carries_the_contract_params_tags_metrics_and_artifacts(headline):
    cwd, _ = headline
    client = store_client(cwd)
    runs = all_runs(cwd)
    assert len({run.data.tags["nnlab.sweep_id"] for run in runs}) == 1
    assert len({run.data.tags["nnlab.config_hash"] for run in runs}) == 6
    for run in runs:
        params = run.data.params
        assert params["activation"] == params["output"]  # the sincos recipe: output follows
        assert params["hidden"] == "[16]" and params["dataset.name"] == "sincos"
        assert params["init.std"] == "0.1" and params["seed"] == run.info.run_name[-1]
        assert CONTRACT_METRICS <= set(run.data.metrics)
        assert ("dead_units_frac" in run.data.metrics) == (params["activation"] == "relu")
        for dead in ("dead_units_frac", "dead_outputs_frac"):  # output follows activation
            assert (dead in run.data.metrics) == (f"{dead}_at_init" in run.data.metrics) \
                == (params["activation"] == "relu")
        assert run.data.metrics["steps"] == 20
        history = client.get_metric_history(run.info.run_id, "train_loss")
        assert sorted(m.step for m in history) == list(range(20))
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert artifacts >= {"config.yaml", "weights.npz", "fit.png"}
        weights = Path(client.download_artifacts(run.info.run_id, "weights.npz", str(cwd)))
        with np.load(weights, allow_pickle=False) as archive:
            assert archive["W0"].shape == (1, 16) and archive["W1"].shape == (16, 2)


def test_metrics_are_the_same_with_one_worker_and_with_two(headline, tmp_path):
    cwd, _ = headline
    done = run_nnlab(tmp_path, "-m", "seed=0,1,2", "activation=relu,sigmoid", *SHORT,
                     "hydra.launcher.n_jobs=1")
    assert done.returncode == 0, done.stderr
    parallel, serial = _by_name(all_runs(cwd)), _by_name(all_runs(tmp_path))
    assert parallel.keys() == serial.keys()
    for name, run in parallel.items():
        a = {k: v for k, v in run.data.metrics.items() if k not in WALL_CLOCK_METRICS}
        b = {k: v for k, v in serial[name].data.metrics.items()
             if k not in WALL_CLOCK_METRICS}
        assert a == b, name


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["lrr=0.1"], "lrr"),
        (["lr=-0.5"], "lr=-0.5"),
        (["lr=fast"], "lr=fast"),
        (["activation=swish"], "activation=swish"),
        (["dataset=mnist"], "dataset/mnist"),
        (["batch_size=0"], "batch_size=0"),
        (["l2=-1"], "l2=-1"),
        (["dataset.n_train=50000"], "dataset.n_train=50000"),
        (["seed=-1"], "seed=-1"),
        (["-m", "seed=0,1", "lr=1.0,-1"], "lr=-1"),
        (["-m", "seed=0,1", "activation=relu,swish"], "activation=swish"),
    ],
)
def test_bad_config_fails_with_one_line_and_writes_no_run(tmp_path, args, needle):
    done = run_nnlab(tmp_path, *args, *SHORT)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nnlab: config error: ") and needle in lines[0]
    assert not (tmp_path / "mlflow.db").exists() or all_runs(tmp_path) == []


# (overrides, KEY=VALUE, a piece of what is allowed): the first four reached NumPy, Hydra or the
# training loop before they were declared.
ONE_FORMAT = [
    (["init.std=-1"], "init.std=-1.0", "a finite float >= 0"),
    (["seed=-1"], "seed=-1", "an int >= 0"),
    (["+foo=bar"], "foo=bar", "foo is not a config key"),
    (["dataset=iris", "dataset.n_train=2"], "dataset.n_train=2", "3..100"),
    (["lr=-0.5"], "lr=-0.5", "a finite float > 0"),
    (["activation=swish"], "activation=swish", "relu"),
    (["batch_size=0"], "batch_size=0", "an int >= 1, or null"),
    (["hidden=[16,0]"], "hidden=[16, 0]", "each item an int >= 1"),
    (["dataset.n_train=50000"], "dataset.n_train=50000", "1..9600"),
    (["steps=0"], "steps=0", "an int >= 1, or null (epochs sets the length)"),
    (["dataset.target_noise=-0.1"], "dataset.target_noise=-0.1", "a finite float >= 0"),
    (["dataset=moons", "dataset.target_noise=0.1"], "dataset.target_noise=0.1",
     "the options of moons: n_samples, noise, n_test"),
]


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
@pytest.mark.parametrize(("args", "key_value", "allowed"), ONE_FORMAT,
                         ids=[case[1] for case in ONE_FORMAT])
def test_a_bad_value_fails_with_one_line_in_the_one_format_and_writes_no_run(
        tmp_path, sweep, args, key_value, allowed):
    # No SHORT: nothing trains, and iris takes no n_samples.
    done = run_nnlab(tmp_path, *(["-m", "seed=0,1"] if sweep else []), *args)
    assert done.returncode != 0
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    # A sweep names the job too: "... (job: seed=0 init.std=-1 ...)".
    assert re.fullmatch(rf"nnlab: config error: {re.escape(key_value)} is invalid; allowed: "
                        rf".*{re.escape(allowed)}.*", lines[0]), lines[0]
    assert not (tmp_path / "mlflow.db").exists()


def test_a_diverged_run_prints_its_progress_line_and_no_numpy_warning(tmp_path):
    done = run_nnlab(tmp_path, "lr=100", "activation=identity", *SHORT)
    assert done.returncode == 0, done.stderr
    assert "RuntimeWarning" not in done.stderr
    [line] = done.stdout.splitlines()
    assert line.startswith("identity-s0 diverged at step "), line


@pytest.mark.parametrize(
    ("sweep_args", "needle"),
    [
        # A later job of an arm: its config is its arm's first, with its own seed.
        (["seed=0,1,abc"], "seed=abc"),
        (["seed=0,1.5"], "seed=1.5"),
        (["seed=0,-1"], "seed=-1"),
        # A value that interpolates the seed differs between the jobs of an arm too.
        (["seed=1,0", "log_every=${seed}"], "log_every=0"),
        # The first job of a later arm.
        (["seed=0,1", "lr=0.1,-1"], "lr=-1"),
    ],
)
def test_a_bad_value_in_a_later_job_stops_the_sweep_before_anything_runs(tmp_path, sweep_args,
                                                                        needle):
    done = run_nnlab(tmp_path, "-m", *sweep_args, *SHORT)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nnlab: config error: ") and needle in lines[0]
    assert " (job: seed=" in lines[0]  # the job it stopped at
    assert not (tmp_path / "mlflow.db").exists()


def test_a_value_that_interpolates_the_seed_is_planned_per_job(tmp_path):
    done = run_nnlab(tmp_path, "-m", "seed=0,1", "experiment_name=e${seed}", *SHORT)
    assert done.returncode == 0, done.stderr
    client = store_client(tmp_path)
    for seed in (0, 1):
        experiment = client.get_experiment_by_name(f"e{seed}")
        assert experiment is not None
        # The jobs' runs: each experiment holds its sweep's parent run too.
        runs = [run for run in client.search_runs([experiment.experiment_id])
                if "mlflow.parentRunId" in run.data.tags]
        assert [run.data.params["seed"] for run in runs] == [str(seed)]


def test_a_diverging_run_is_failed_with_its_step_and_the_sweep_goes_on(tmp_path):
    done = run_nnlab(tmp_path, "-m", "seed=0,1", "lr=1.0,1e6", "activation=identity", *SHORT)
    assert done.returncode == 0, done.stderr
    runs = _by_name(all_runs(tmp_path))
    assert len(runs) == 4
    for name, run in runs.items():
        if float(run.data.params["lr"]) == 1e6:
            assert run.info.status == "FAILED"
            failure = run.data.tags["nnlab.failure"]
            assert failure.startswith("diverged at step ")
            step = int(failure.rsplit(" ", 1)[1])
            history = store_client(tmp_path).get_metric_history(run.info.run_id, "train_loss")
            assert max(m.step for m in history) == step
            # Infinite, as MLflow's SQL store keeps it (the largest float), or NaN.
            last = max(history, key=lambda m: m.step).value
            assert math.isnan(last) or abs(last) == sys.float_info.max
        else:
            assert run.info.status == "FINISHED", name
    assert "4 runs: 2 FAILED, 2 FINISHED" in done.stdout


def test_a_crashing_job_is_failed_with_its_message_and_the_others_finish(tmp_path):
    # A real fault: where job 1 must write its artifacts there is a file, not a folder.
    (tmp_path / "multirun" / "1").mkdir(parents=True)
    (tmp_path / "multirun" / "1" / "artifacts").write_text("in the way")
    done = run_nnlab(tmp_path, "-m", "seed=0,1,2", *SHORT)
    assert done.returncode != 0
    runs = _by_name(all_runs(tmp_path))
    assert {name: run.info.status for name, run in runs.items()} == {
        "s0": "FINISHED", "s1": "FAILED", "s2": "FINISHED"}
    assert runs["s1"].data.tags["nnlab.failure"].startswith("FileExistsError")
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("nnlab: 3 runs: ") and "1 crashed: seed=1" in last_line


def test_rerunning_a_sweep_skips_the_configs_already_finished(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    first = run_nnlab(tmp_path, "-m", "seed=0,1", *SHORT)
    assert first.returncode == 0, first.stderr
    again = run_nnlab(tmp_path, "-m", "seed=0,1,2", *SHORT)
    assert again.returncode == 0, again.stderr
    assert "skipped 2 finished, running 1 " in again.stdout
    assert sorted(run.info.run_name for run in all_runs(tmp_path)) == ["s0", "s1", "s2"]
    # The report of the resumed sweep counts the runs it skipped: all three seeds.
    assert sorted(load_runs("nnlab")["run_name"]) == ["s0", "s1", "s2"]
    done = run_nnlab(tmp_path, "-m", "seed=0,1,2", *SHORT)
    assert done.returncode == 0, done.stderr
    assert "skipped 3 finished, running 0 " in done.stdout and len(all_runs(tmp_path)) == 3
    forced = run_nnlab(tmp_path, "-m", "seed=0,1,2", *SHORT, "resume=false")
    assert forced.returncode == 0, forced.stderr
    assert "running 3 " in forced.stdout and "skipped" not in forced.stdout
    # The same sweep folder as the sweeps before: the progress counts this sweep's jobs only.
    assert sorted(line.split()[0] for line in forced.stdout.splitlines()
                  if line.startswith("[")) == ["[1/3]", "[2/3]", "[3/3]"]
    assert len(all_runs(tmp_path)) == 6
    latest = load_runs("nnlab")
    assert len(latest) == 3 and latest["sweep_id"].nunique() == 1


def test_a_slurm_sweep_into_a_local_store_is_warned_to_use_a_server(capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    sweep.warn_if_store_is_local("hydra_plugins.hydra_submitit_launcher.submitit_launcher."
                                 "SlurmLauncher")
    assert "python -m nnlab.server" in capsys.readouterr().err
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.lab:5000")
    sweep.warn_if_store_is_local("hydra_plugins.hydra_submitit_launcher.submitit_launcher."
                                 "SlurmLauncher")
    sweep.warn_if_store_is_local("hydra_plugins.nnlab_launcher.nnlab_launcher.NnlabLauncher")
    assert capsys.readouterr().err == ""


class _SubmititLike:
    """A launcher as the submitit plugin defines it (its module is what tells)."""


_SubmititLike.__module__ = "hydra_plugins.hydra_submitit_launcher.submitit_launcher"


class _Declares:
    def __init__(self, prints: bool) -> None:
        self.jobs_print_to_console = prints


def test_progress_is_read_from_the_store_only_for_launchers_whose_jobs_print_elsewhere():
    assert sweep.jobs_print_progress(object())  # Hydra's basic launcher runs jobs in-process
    assert sweep.jobs_print_progress(_Declares(True))
    assert not sweep.jobs_print_progress(_Declares(False))
    assert not sweep.jobs_print_progress(_SubmititLike())


def _record(status: str, tags: dict, metrics: dict) -> RunRecord:
    return RunRecord("id", "relu-s3", status, 1_000, 1_600, {}, tags, metrics)


def test_a_stored_runs_progress_line_is_the_one_its_job_prints():
    assert sweep.progress_line("relu-s3", None, 0.03124, 0.61) == "relu-s3 test_loss=0.03124 0.6s"
    finished = _record("FINISHED", {}, {"test_loss": 0.03124})
    assert sweep.stored_progress_line(finished) == "relu-s3 test_loss=0.03124 0.6s"
    diverged = _record("FAILED", {"nnlab.failure": "diverged at step 12",
                                  "nnlab.diverged_at": "12"}, {})
    assert sweep.stored_progress_line(diverged) == "relu-s3 diverged at step 12 0.6s"
    # A crashed job prints no progress line: the summary names it.
    crashed = _record("FAILED", {"nnlab.failure": "ValueError: boom"}, {})
    assert sweep.stored_progress_line(crashed) is None
