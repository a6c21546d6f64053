"""nnlab's launcher derives a seed's job config from its arm's first job: it must be exactly
the config Hydra composes for that job."""

from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf

import nnlab
from nnlab import contract, process
from nnlab.harness import compat, launch
from nnlab.harness.app import register_schema


@pytest.fixture(scope="module")
def hydra_loader():
    register_schema()
    with initialize_config_dir(config_dir=str(Path(nnlab.__file__).parent / "conf"),
                               version_base="1.3"):
        yield GlobalHydra.instance().config_loader()


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
    composed_before = len(process.cache(launch.FIRST_OF_ARM_CACHE))
    for overrides in jobs:
        derived = launch.job_config(hydra_loader, master, overrides)
        composed = hydra_loader.load_sweep_config(master, overrides)
        assert OmegaConf.to_container(derived) == OmegaConf.to_container(composed), overrides
        assert _resolved_task(derived) == _resolved_task(composed)
        assert OmegaConf.is_struct(derived) and OmegaConf.is_struct(composed)
    # One composition per arm; the other seeds' configs were derived.
    assert len(process.cache(launch.FIRST_OF_ARM_CACHE)) - composed_before == 2


def test_a_job_that_differs_in_more_than_the_seed_is_composed(hydra_loader):
    master = hydra_loader.load_configuration("config", [], RunMode.MULTIRUN)
    launch.job_config(hydra_loader, master, _job(0, "relu", ("lr=0.25",)))
    other = launch.job_config(hydra_loader, master, _job(1, "relu", ("lr=0.75",)))
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
