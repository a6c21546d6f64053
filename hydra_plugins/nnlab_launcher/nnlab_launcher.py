"""nnlab's default launcher: Hydra's joblib launcher, with less work per job.

Hydra instantiates launchers only from the `hydra_plugins` package; the logic lives in
`nnlab.harness.launch`, this class only calls it. Its options are the joblib launcher's
(`n_jobs`, ...).
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher


@dataclass
class NnlabLauncherConf(JobLibLauncherConf):
    _target_: str = "hydra_plugins.nnlab_launcher.nnlab_launcher.NnlabLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="nnlab", node=NnlabLauncherConf,
                             provider="nnlab")


class NnlabLauncher(JoblibLauncher):
    _starting: threading.Thread | None = None
    # On Ctrl-C joblib terminates the workers: the sweeper may close their runs as KILLED.
    stops_jobs_when_interrupted = True

    def start_workers(self) -> None:
        """Called by nnlab's sweeper once the jobs are checked, before it prepares the store."""
        from nnlab.harness import launch

        self._starting = launch.start_workers(launch.parallel_options(self.joblib))

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        from nnlab.harness import launch

        if self._starting is not None:
            self._starting.join()
            self._starting = None
        return launch.launch(self, job_overrides, initial_job_idx)
