"""nnlab's launcher derives a seed's job config from its arm's first job: it must be exactly
the config Hydra composes for that job."""

import threading
import time
import warnings
from collections.abc import Generator
from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobReturn
from hydra.types import RunMode
from joblib import Parallel, delayed
from omegaconf import OmegaConf

import nnlab
from nnlab import contract
from nnlab.harness import compat, launch
from nnlab.harness.app import register_schema
from nnlab.tracking.records import ServerNotAnswering


def _config_loader(conf_dir: Path):
    """Hydra's config loader of the app in `conf_dir`; Hydra's global state left as it was."""
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        return GlobalHydra.instance().config_loader()


@pytest.fixture(scope="module")
def hydra_loader():
    register_schema()
    return _config_loader(Path(nnlab.__file__).parent / "conf")


def _job(seed: int, activation: str, extra: tuple[str, ...] = ()) -> list[str]:
    return [f"seed={seed}", f"activation={activation}", *extra,
            f"++hydra.job.env_set.{contract.SWEEP_ID_ENV}='20261126-1200-abc'",
            f"++hydra.job.env_set.{contract.RUN_NAME_ENV}='{activation}-s{seed}'"]


def _resolved_task(config) -> str:
    # The hydra node cannot resolve outside a job (hydra.job.num is set by the launcher).
    return OmegaConf.to_yaml(OmegaConf.masked_copy(config, [k for k in config if k != "hydra"]),
                             resolve=True)


@pytest.mark.parametrize(("hydra_overrides", "experiment"), [
    ([], ()),
    (["hydra.job.config.override_dirname.exclude_keys=[seed]"], ("+experiment=init_shift",)),
    # An override whose value resolves in the job only: Hydra keeps it as written.
    (["hydra.sweep.subdir=run_${hydra.job.num}"], ()),
])
def test_derived_job_configs_equal_hydras_composition(hydra_loader, hydra_overrides,
                                                      experiment):
    master = hydra_loader.load_configuration("config", [*hydra_overrides, *experiment],
                                             RunMode.MULTIRUN)
    jobs = [_job(seed, activation, (*experiment, "lr=0.5", "dataset.n_train=100"))
            for seed in (0, 1, 7) for activation in ("relu", "sigmoid")]
    first_of_arm = {}
    for overrides in jobs:
        derived = launch.job_config(hydra_loader, master, overrides, first_of_arm)
        composed = hydra_loader.load_sweep_config(master, overrides)
        assert OmegaConf.to_container(derived) == OmegaConf.to_container(composed), overrides
        assert _resolved_task(derived) == _resolved_task(composed)
        assert OmegaConf.is_struct(derived) and OmegaConf.is_struct(composed)
    # One composition per arm; the other seeds' configs were derived.
    assert len(first_of_arm) == 2


def test_a_job_that_differs_in_more_than_the_seed_is_composed(hydra_loader):
    master = hydra_loader.load_configuration("config", [], RunMode.MULTIRUN)
    first_of_arm = {}
    launch.job_config(hydra_loader, master, _job(0, "relu", ("lr=0.25",)), first_of_arm)
    other = launch.job_config(hydra_loader, master, _job(1, "relu", ("lr=0.75",)), first_of_arm)
    assert other.lr == 0.75 and other.seed == 1
    assert other.hydra.overrides.task[:3] == ["seed=1", "activation=relu", "lr=0.75"]


def test_a_worker_keeps_its_plugins_and_takes_the_rest_of_the_launchers_state(hydra_loader):
    from hydra.core.plugins import Plugins
    from hydra.core.singleton import Singleton

    state = Singleton.get_state()  # what the launcher sends with every job: no plugins in it
    plugins = Plugins.instance()
    compat.restore_singletons(state)
    assert Plugins.instance() is plugins
    # A class whose metaclass is Hydra's Singleton returns its one instance when called.
    for singleton_class, instance in state["instances"].items():
        assert singleton_class() is instance


# Two small apps of other people's (config dir -> files), where setting the seed of an arm's
# first job in a copy of its config would not give what Hydra composes.
FOREIGN_APPS = {
    # `seed` a config group: `seed=b` chooses an option, it does not set a value.
    "groups": {"config.yaml": "defaults:\n  - seed: a\n  - _self_\n",
               "seed/a.yaml": "value: 1\n", "seed/b.yaml": "value: 2\n"},
    # `seed` a dict (Hydra merges a dict value into it), or no `seed` (each job adds it).
    "values": {"dict.yaml": "seed:\n  c: 3\n  d: 4\n", "config.yaml": "x: 1\n"},
}


@pytest.fixture(scope="module")
def foreign_loaders(tmp_path_factory):
    loaders = {}
    for app, files in FOREIGN_APPS.items():
        conf = tmp_path_factory.mktemp(app)
        for name, text in files.items():
            (conf / name).parent.mkdir(exist_ok=True)
            (conf / name).write_text(text)
        loaders[app] = _config_loader(conf)
    return loaders


@pytest.mark.parametrize(("app", "config_name", "jobs"), [
    ("groups", "config", [["seed=a"], ["seed=b"]]),
    ("values", "dict", [["seed={c:1}"], ["seed={d:2}"]]),
    ("values", "config", [["+seed=0", "x=2"], ["+seed=1", "x=2"]]),
    ("values", "config", [["++seed=0"], ["++seed=1"]]),
    ("values", "config", [["+seed=0", "seed=5"], ["+seed=1", "seed=6"]]),
])
def test_a_foreign_apps_job_configs_equal_hydras_composition(foreign_loaders, app, config_name,
                                                              jobs):
    loader = foreign_loaders[app]
    master = loader.load_configuration(config_name, [], RunMode.MULTIRUN)
    first_of_arm = {}
    for overrides in jobs:
        derived = launch.job_config(loader, master, overrides, first_of_arm)
        composed = loader.load_sweep_config(master, overrides)
        assert OmegaConf.to_container(derived) == OmegaConf.to_container(composed), overrides


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_a_sweep_takes_no_config_from_an_earlier_sweep_of_another_app(hydra_sweep_runner,
                                                                       tmp_path):
    # One worker: joblib runs the jobs in this process, which ran the earlier sweep's jobs too.
    # Same sweep folder, same command line: only the app's config differs.
    for config_name, app_config in (("config", {"normal_yaml_config": True}),
                                    ("some_config", {"some_config": True})):
        with hydra_sweep_runner(calling_file=None, calling_module="hydra.test_utils.a_module",
                                task_function=None, config_path="configs",
                                config_name=config_name,
                                overrides=["hydra/launcher=nnlab", "hydra.launcher.n_jobs=1",
                                           "+seed=0,1"],
                                temp_dir=tmp_path) as sweep:
            assert [job.cfg for job in sweep.returns[0]] == [{**app_config, "seed": seed}
                                                            for seed in (0, 1)]


def _job_of_a_sweep_losing_its_server(index: int, one_done: threading.Event) -> JobReturn:
    """Job 0 finds the server gone at once, job 1 returns soon after, the others still run
    when the sweep stops."""
    if index == 0:
        return compat.failed_job([], ServerNotAnswering("http://127.0.0.1:5000", 7.0))
    if index == 1:
        one_done.set()
        return compat.failed_job([], ValueError("finished, never read"))
    time.sleep(1.0)
    return compat.failed_job([], ValueError("cancelled"))


def test_a_sweep_stopped_by_a_dead_server_prints_no_warning_on_the_jobs_it_drops():
    # Threads rather than loky's processes: joblib's generator warns alike on both. A job done
    # and not read yet made the warning start otherwise, and it was printed under the one line.
    one_done = threading.Event()
    jobs = Parallel(n_jobs=3, backend="threading", return_as="generator_unordered")(
        delayed(_job_of_a_sweep_losing_its_server)(index, one_done) for index in range(4))
    assert isinstance(jobs, Generator)
    server_gone = next(jobs)
    assert isinstance(server_gone, JobReturn)
    assert one_done.wait(30)
    time.sleep(0.1)  # job 1's return reaches joblib's queue: done, not read
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ServerNotAnswering):
            launch.stop_if_server_gone(jobs, server_gone)
    assert [str(warning.message) for warning in caught] == []
