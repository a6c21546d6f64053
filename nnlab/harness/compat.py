"""Hydra's and OmegaConf's private API: every use of it in nnlab is in this module.

Checked on hydra-core 1.3.2 to 1.3.8 and omegaconf 2.3 (the lock has hydra-core 1.3.8 and
omegaconf 2.3.1; pyproject.toml allows hydra-core 1.3.x only). A Hydra upgrade is checked here,
by tests/test_launch.py, which compares the launcher's job configs with Hydra's own, and by
tests/test_launcher_suites.py, Hydra's own launcher test suites.
"""

import copy
import importlib
from collections.abc import Sequence
from typing import Any

from hydra._internal.config_loader_impl import get_overrides_dirname
from hydra.core.override_parser.types import Override
from hydra.core.plugins import Plugins
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig
from omegaconf.basecontainer import BaseContainer

BASIC_SWEEPER_MODULE = "hydra._internal.core_plugins.basic_sweeper"


def basic_sweeper() -> tuple[type, type]:
    """Hydra's BasicSweeper and its config dataclass, as the plugin scan last loaded them.

    Hydra executes its plugin modules again when it scans them: a class imported before the
    scan (by a module imported early, such as this one) is not the class Hydra's own methods
    then refer to, and `super()` in them fails. Call this from a plugin module, which the scan
    imports after Hydra's own plugins.
    """
    module = importlib.import_module(BASIC_SWEEPER_MODULE)
    return module.BasicSweeper, module.BasicSweeperConf


def override_dirname(task_overrides: Sequence[Override], dirname_config: DictConfig) -> str:
    """`hydra.job.override_dirname` as Hydra composes it for these task overrides, under
    `hydra.job.config.override_dirname` (its kv_sep, item_sep, exclude_keys)."""
    return get_overrides_dirname(overrides=list(task_overrides),
                                 kv_sep=dirname_config.kv_sep,
                                 item_sep=dirname_config.item_sep,
                                 exclude_keys=dirname_config.exclude_keys)


def restore_singletons(state: dict[Any, Any]) -> None:
    """`Singleton.set_state(state)`, keeping the plugins this process has found already.

    The public call discovers the installed plugins again (imports and scans, ~25 ms), which a
    worker would pay for every job.
    """
    plugins = Singleton._instances.get(Plugins)
    if plugins is None:
        Singleton.set_state(state)
        return
    Singleton._instances = {**state["instances"], Plugins: plugins}
    BaseContainer._resolvers = copy.deepcopy(state["omegaconf_resolvers"])


def job_outcome(job: JobReturn) -> Any:
    """A job's return value, or the exception it raised: `JobReturn.return_value` re-raises
    the exception of a failed job instead of returning it."""
    return job._return_value


def failed_job(task_overrides: list[str], error: BaseException) -> JobReturn:
    """The JobReturn of a job that raised `error` (or whose process died) without returning:
    what Hydra's `run_job` returns for a job that raised."""
    return JobReturn(overrides=task_overrides, status=JobStatus.FAILED, _return_value=error)


def completed_job(task_overrides: list[str], value: Any) -> JobReturn:
    """The JobReturn of a job that returned `value`, as Hydra's `run_job` returns it."""
    return JobReturn(overrides=task_overrides, status=JobStatus.COMPLETED, _return_value=value)
