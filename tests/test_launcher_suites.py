"""nnlab's launcher passes Hydra's own launcher test suites, as Hydra's joblib launcher does.

`LauncherTestSuite` sweeps Hydra's test app (`hydra.test_utils.a_module` with its `configs/`,
both shipped with hydra-core) in this process; `IntegrationTestSuite` writes small Hydra apps
into a temp dir and runs them as `python task.py -m ...`. Neither app is nnlab's: the launcher
must behave as Hydra's launchers do for any app. Each suite runs with one worker (joblib then
runs the jobs in the launching process) and with two (loky's worker processes).
"""

import copy
import os
import signal
import subprocess
import sys

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite
from hydra.test_utils.test_utils import integration_test
from hydra.version import VersionBase
from joblib.externals.loky.process_executor import TerminatedWorkerError
from packaging.version import Version

from hydra_plugins.nnlab_launcher.nnlab_launcher import NnlabLauncher

# Real processes (workers, Hydra apps as scripts): `make test-fast` leaves these out. Hydra's
# test app declares no version_base: Hydra warns that its jobs change directory.
pytestmark = [pytest.mark.process,
              pytest.mark.filterwarnings("ignore:Future Hydra versions will no longer change")]


@pytest.fixture(autouse=True)
def hydra_11_version_base():
    """Hydra's test app declares no version_base, and expects Hydra 1.1's defaults (a job
    changes into its folder): whatever version base an app imported before in this process
    declared. Hydra keeps it process-wide, and `import nnlab.harness.app` sets 1.3."""
    declared = copy.copy(VersionBase.instance())
    VersionBase.instance().setbase(Version("1.1"))  # what an app that declares none gets
    yield
    VersionBase.set_instance(declared)


@pytest.fixture(params=[1, 2], ids=lambda n: f"n_jobs={n}")
def n_jobs(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
def launcher_name() -> str:
    return "nnlab"


@pytest.fixture
def overrides(n_jobs: int) -> list[str]:
    # A new list for every test: the suite's sweep_2_jobs extends the list it is given.
    return [f"hydra.launcher.n_jobs={n_jobs}"]


@pytest.fixture
def task_launcher_cfg() -> dict:
    return {}


@pytest.fixture
def extra_flags(n_jobs: int) -> list[str]:
    return ["-m", "hydra/launcher=nnlab", f"hydra.launcher.n_jobs={n_jobs}",
            "hydra/hydra_logging=hydra_debug", "hydra/job_logging=disabled"]


def test_hydra_discovers_the_launcher() -> None:
    assert NnlabLauncher.__name__ in [x.__name__ for x in Plugins.instance().discover(Launcher)]


class TestNnlabLauncher(LauncherTestSuite):
    """Hydra's launcher suite on `hydra/launcher=nnlab`."""


class TestNnlabLauncherIntegration(IntegrationTestSuite):
    """Hydra's integration suite: its apps run with `hydra/launcher=nnlab`."""


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_a_dead_worker_stops_another_apps_sweep_as_in_hydras_joblib_launcher(hydra_sweep_runner,
                                                                              tmp_path):
    # nnlab's sweeps close the dead worker's runs in their store; another app has neither.
    def task(cfg):
        if cfg.a == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return cfg.a

    sweep = hydra_sweep_runner(calling_file=None, calling_module="hydra.test_utils.a_module",
                               task_function=task, config_path="configs", config_name="compose",
                               overrides=["hydra/launcher=nnlab", "hydra.launcher.n_jobs=2",
                                          "+a=0,1"],
                               temp_dir=tmp_path)
    with pytest.raises(TerminatedWorkerError), sweep:
        pass


def test_another_apps_jobs_leave_the_garbage_collector_alone(tmp_path):
    # One worker: joblib runs the jobs in the app's own process. nnlab's jobs freeze what their
    # worker has loaded (MLflow and the rest) out of later collections; another app's must not.
    integration_test(tmp_path, task_config={}, prolog="import gc",
                     overrides=["-m", "hydra/launcher=nnlab", "hydra.launcher.n_jobs=1",
                                "+a=0,1"],
                     prints="str(gc.get_freeze_count())", expected_outputs="0")


LOGGING_APP = """import hydra

@hydra.main(version_base="1.3", config_path=None)
def main(cfg):
    pass

if __name__ == "__main__":
    main()
"""


def _launcher_log(tmp_path, launcher: str) -> list[str]:
    """The lines Hydra's logger prints for a sweep of 2 jobs, less their timestamps."""
    (tmp_path / "app.py").write_text(LOGGING_APP)
    done = subprocess.run([sys.executable, "app.py", "-m", f"hydra/launcher={launcher}",
                           "hydra.launcher.n_jobs=2", "+a=0,1", "hydra.sweep.dir=sweep"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True)
    return [line.split("][HYDRA] ", 1)[1] for line in done.stdout.splitlines()
            if "][HYDRA] " in line]


def test_the_launcher_logs_its_jobs_as_hydras_joblib_launcher_does(tmp_path):
    assert _launcher_log(tmp_path, "nnlab") == _launcher_log(tmp_path, "joblib")
