"""nnlab's submitit launchers: the submitit plugin's, whose interrupted sweep cancels its jobs.

`hydra/launcher=slurm` and `hydra/launcher=local_submitit` (nnlab/conf/hydra/launcher/) name
these classes; their options are the plugin's. Hydra instantiates launchers only from the
`hydra_plugins` package; the logic lives in `nnlab.harness.scheduler`. Without the
`nnlab[slurm]` extra there is nothing to subclass, and this module defines nothing.
"""

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn


class _Cancelling:
    """What both launchers add to the plugin's (a mixin: its methods run on the plugin's)."""

    _EXECUTOR: str  # the plugin's class attribute: "slurm" or "local"
    # On Ctrl-C or SIGTERM the launcher cancels its jobs and waits for them to end: the
    # sweeper may close their runs as KILLED.
    stops_jobs_when_interrupted = True
    # Each job's output goes to its log file: the sweeper prints the progress lines.
    jobs_print_to_console = False

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        from nnlab.harness import scheduler

        return scheduler.launch(self, self._EXECUTOR, job_overrides, initial_job_idx)

    def __call__(self, *args: Any) -> JobReturn:
        """The job, in its Slurm task or local process."""
        from nnlab.harness import scheduler

        # The plugin's launcher, after this mixin in the class's bases, defines __call__.
        plugin_call = super().__call__  # pyright: ignore[reportAttributeAccessIssue]
        return scheduler.run_task(plugin_call, *args)


try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
        LocalLauncher,
        SlurmLauncher,
    )
except ImportError:  # no hydra-submitit-launcher: the presets say the plugin is missing
    pass
else:

    class NnlabSlurmLauncher(_Cancelling, SlurmLauncher):
        pass

    class NnlabLocalLauncher(_Cancelling, LocalLauncher):
        pass
