"""How nnlab's default launcher runs a sweep's jobs: Hydra's joblib launcher, made cheap per job.

The tutorials' runs take 0.05-1 s, so what the stock launcher does around each job costs as much
as the job: every job composes its config from the YAML tree again (~0.2 s here), although the
jobs of a seed sweep differ only in `seed` and their run name. Here each worker composes the
first job of each arm (of one `launch` call) and derives the other seeds' configs from it: a
copy with the seed, the run name and the override lists Hydra records (`hydra.overrides`,
`hydra.job.override_dirname`) set as Hydra itself would set them, wherever that gives what
composing gives (`sweep.arm_of`); `tests/test_launch.py` checks the result equals Hydra's own
composition, for nnlab's app and for others. Jobs then go through Hydra's `run_job` as with
the stock launcher. Hydra's `Singleton.set_state`, which the stock launcher calls per job, also
discovers the installed plugins again (~25 ms); a worker keeps the plugins it found for its
first job.

The workers also start while the launching process prepares the MLflow store (importing MLflow
and creating a store take seconds in each process): see `start_workers`. And they end with it,
even killed with SIGKILL: see `dying_with_this_process`.
"""

import copy
import logging
import os
import threading
import uuid
import warnings
from collections.abc import Generator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_loader import ConfigLoader
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from joblib import Parallel, delayed, effective_n_jobs
from joblib.externals.loky.process_executor import TerminatedWorkerError
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

from nnlab import contract, liveness, process
from nnlab.harness import compat, sweep
from nnlab.tracking import handoff, unlogged
from nnlab.tracking.records import ServerNotAnswering

log = logging.getLogger(__name__)

# Below the sweep's folder: the folders in which the jobs of each launch hand their runs over.
HANDOFF_DIR = ".nnlab_handoff"

# A worker's cache: the composed config of the first job of each arm, for one `launch` call.
FIRST_OF_ARM_CACHE = "first job config of each arm"


def job_config(loader: ConfigLoader, master: DictConfig, overrides: Sequence[str],
               first_of_arm: dict[tuple[str, ...], DictConfig | None]) -> DictConfig:
    """What `loader.load_sweep_config(master, overrides)` returns, composing once per arm.

    `first_of_arm` keeps the first config of each arm (None: an arm whose jobs are each
    composed) for the jobs of one master config.
    """
    parsed = sweep.parse(overrides)
    arm, per_job = sweep.arm_of(parsed)
    if arm not in first_of_arm:
        config = loader.load_sweep_config(master, list(overrides))
        first_of_arm[arm] = (None if sweep.names_a_group(config, per_job)
                             else copy.deepcopy(config))
        return config
    first = first_of_arm[arm]
    if first is None:
        return loader.load_sweep_config(master, list(overrides))

    config = copy.deepcopy(first)
    try:
        sweep.set_per_job_values(config, per_job)
    except OmegaConfBaseException:
        # A value its node rejects: composing raises Hydra's own error for it.
        return loader.load_sweep_config(master, list(overrides))
    task = [o for o in parsed if not o.is_hydra_override()]
    with read_write(config.hydra), open_dict(config.hydra):
        hydra = config.hydra
        hydra.overrides.task = [o.input_line for o in task]
        # The command line as Hydra keeps it: an override's value may hold an interpolation
        # that resolves in the job only (`hydra.sweep.subdir=run_${hydra.job.num}`).
        command_line = OmegaConf.to_container(master.hydra.overrides.hydra)
        assert isinstance(command_line, list)  # Hydra keeps the overrides as a list
        hydra.overrides.hydra = command_line + [
            o.input_line for o in parsed if o.is_hydra_override()]
        hydra.job.override_dirname = compat.override_dirname(
            task, hydra.job.config.override_dirname)
    return config


def _first_of_arm(launch_id: str) -> dict[tuple[str, ...], DictConfig | None]:
    """This process's first configs for the jobs of one `launch` call. An earlier call's are
    dropped: they may be another sweep's, another app's, or composed from files since edited."""
    cache = process.cache(FIRST_OF_ARM_CACHE)
    if launch_id not in cache:
        cache.clear()
        cache[launch_id] = {}
    return cache[launch_id]


def execute_job(idx: int, overrides: Sequence[str], hydra_context: HydraContext,
                config: DictConfig, task_function: TaskFunction,
                singleton_state: dict[Any, Any], launch_id: str,
                handoff_dir: str | None) -> JobReturn:
    """One job in a worker: the stock joblib launcher's steps, with `job_config`; a job nnlab's
    sweeper planned hands its run over to the launching process (`handoff_dir`)."""
    setup_globals()
    if handoff_dir is not None:
        os.environ[contract.HANDOFF_ENV] = str(handoff.job_folder(Path(handoff_dir), idx))
    compat.restore_singletons(singleton_state)
    job = job_config(hydra_context.config_loader, config, overrides, _first_of_arm(launch_id))
    with open_dict(job):
        job.hydra.job.id = f"{job.hydra.job.name}_{idx}"
        job.hydra.job.num = idx
    HydraConfig.instance().set_config(job)
    try:
        return run_job(hydra_context=hydra_context, config=job, task_function=task_function,
                       job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    finally:
        os.environ.pop(contract.HANDOFF_ENV, None)
        if sweep.planned_by_nnlab(overrides):
            # A worker that did not warm up has loaded it all now. Another app's process is
            # left as Hydra's launchers leave it.
            process.freeze_what_is_loaded()


def warm_up() -> None:
    """What every job imports: paid once per worker, while the launching process is busy."""
    import matplotlib.backends.backend_agg  # noqa: F401

    import nnlab.harness.app  # noqa: F401

    process.freeze_what_is_loaded()


def parallel_options(joblib_options: DictConfig | dict) -> dict[str, Any]:
    """joblib.Parallel's arguments from the launcher config (as the stock launcher reads them)."""
    options = dict(joblib_options)
    # Hydra's jobs need processes: the stock launcher hard-codes loky too.
    options["backend"] = "loky"
    for key in ("pre_dispatch", "batch_size", "max_nbytes"):
        value = options.get(key)
        if isinstance(value, str) and value.isdigit():
            options[key] = int(value)
    return {str(key): value for key, value in options.items()}


def dying_with_this_process() -> dict[str, Any]:
    """joblib.Parallel's arguments that make every worker loky starts (or restarts after a
    crash) end itself once this process is gone: killed with SIGKILL, it cannot stop them
    (nnlab.liveness.exit_with). The same arguments from one process let joblib hand the next
    Parallel the same workers."""
    return {"initializer": liveness.exit_with, "initargs": (liveness.this_process(),)}


def start_workers(options: dict[str, Any]) -> threading.Thread:
    """Start the worker processes in the background; join the thread before launching.

    joblib hands the next `Parallel` with the same options the same loky processes, so the jobs
    find their workers started and their imports done.
    """
    workers = effective_n_jobs(options.get("n_jobs", -1))
    thread = threading.Thread(target=Parallel(**options, **dying_with_this_process()),
                              args=([delayed(warm_up)()] * workers,),
                              name="nnlab-start-workers", daemon=True)
    thread.start()
    return thread


def stop_if_server_gone(jobs: Generator, returned: JobReturn) -> None:
    """A job that found the tracking server not answering stops the sweep: the other jobs
    would wait for it too. Closing joblib's generator terminates the workers (those training
    lose their run, which never finished; a finished one logging at that moment is kept on
    disk before it logs); the job's ServerNotAnswering passes on to the sweeper."""
    outcome = compat.job_outcome(returned)
    if isinstance(outcome, ServerNotAnswering):
        stop(jobs)
        raise outcome


def stop(jobs: Generator) -> None:
    """Stop joblib's jobs: the workers are terminated, the jobs not read are dropped."""
    with warnings.catch_warnings():
        # joblib's advice on the tasks it drops, cancelled or done and not read yet:
        # dropping them is the point here. The message starts with either, and a filter
        # matches from its start.
        warnings.filterwarnings(
            "ignore", r"\d+ tasks (which were still being processed|have been successfully "
            r"executed)", UserWarning)
        jobs.close()


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> list[JobReturn]:
    """Run the jobs in joblib's worker processes; their returns in the order of the jobs.

    When a worker dies (killed, out of memory), loky stops the whole pool: in a sweep nnlab's
    sweeper planned, the runs in flight are marked FAILED "worker died" and the jobs not started
    yet go on in a new pool; in any other, joblib's error stops the sweep.
    """
    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    options = parallel_options(launcher.joblib)
    # Hydra's joblib launcher's lines; unformatted where nobody sees them (nnlab's own
    # hydra_logging shows warnings only).
    if log.isEnabledFor(logging.INFO):
        log.info("Joblib.Parallel(%s) is launching %d jobs",
                 ",".join(f"{k}={v}" for k, v in options.items()), len(job_overrides))
        log.info("Launching jobs, sweep output dir : %s", sweep_dir)
        for idx, overrides in enumerate(job_overrides):
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
    singleton_state = Singleton.get_state()
    pending = {initial_job_idx + i: list(overrides) for i, overrides in enumerate(job_overrides)}
    launch_id = uuid.uuid4().hex
    returns: dict[int, JobReturn] = {}
    # The runs of the jobs nnlab's sweeper planned are logged here, not in the workers.
    receiver = (handoff.Receiver(sweep_dir / HANDOFF_DIR / launch_id)
                if any(sweep.planned_by_nnlab(overrides) for overrides in job_overrides)
                else None)
    progress = _Progress(sweep_dir, sweep.job_env(job_overrides[0]).get(contract.SWEEP_SIZE_ENV)
                         if job_overrides else None)
    with receiver or nullcontext():
        while pending:
            _run_pool(launcher, options, pending, returns, receiver, singleton_state, launch_id,
                      progress)
    return [returns[idx] for idx in sorted(returns)]


@dataclass(frozen=True)
class _Progress:
    """Where the handed-over runs' `[k/N]` lines are counted, and N."""

    sweep_dir: Path
    total: str | None

    def report(self, received: handoff.Received | None, note: str = "") -> None:
        """A handed-over run's line, once it is logged (a crashed job has none)."""
        if received is not None and received.line:
            sweep.report_progress(self.sweep_dir, received.line + note, self.total)


def _run_pool(launcher: Any, options: dict[str, Any], pending: dict[int, list[str]],
              returns: dict[int, JobReturn], receiver: handoff.Receiver | None,
              singleton_state: dict[Any, Any], launch_id: str, progress: _Progress) -> None:
    """The pending jobs in one pool of workers, until they are done or a worker dies."""
    handoff_dir = None if receiver is None else str(receiver.directory)
    jobs = Parallel(**options, **dying_with_this_process(), return_as="generator_unordered")(
        delayed(execute_job)(idx, overrides, launcher.hydra_context, launcher.config,
                             launcher.task_function, singleton_state, launch_id, handoff_dir)
        for idx, overrides in list(pending.items()))
    assert isinstance(jobs, Generator)  # return_as="generator_unordered"
    done_before = len(returns)
    try:
        for job in jobs:
            assert job is not None and job.hydra_cfg is not None  # run_job sets both
            idx = job.hydra_cfg.hydra.job.num
            if receiver is not None:
                try:
                    progress.report(receiver.log(idx))
                    receiver.check()
                except ServerNotAnswering:
                    stop(jobs)
                    # What finished is kept on disk, for nnlab.sync and the next sweep.
                    for kept in receiver.keep_finished():
                        progress.report(kept, f"  (not logged: kept in {unlogged.where_kept()})")
                    raise
            returns[idx] = job
            del pending[idx]
            stop_if_server_gone(jobs, job)
    except KeyboardInterrupt:
        # Maybe raised here rather than in joblib's generator: close it, so that nothing more
        # is dispatched to the pool joblib terminates.
        stop(jobs)
        if receiver is not None:
            # The runs that finished are logged; the sweeper closes the others as KILLED.
            for received in receiver.settle().values():
                progress.report(received)
        raise
    except TerminatedWorkerError:
        stop(jobs)
        if not any(sweep.planned_by_nnlab(overrides) for overrides in pending.values()):
            # Not a sweep nnlab planned: no store tells the jobs in flight from those not
            # started yet, and the sweep stops as with Hydra's joblib launcher.
            raise
        assert receiver is not None  # a sweep nnlab planned
        # Jobs that finished before the pool died, their returns never read: done.
        for idx, received in receiver.settle().items():
            progress.report(received)
            run = received.run
            returns[idx] = compat.completed_job(_task_overrides(pending.pop(idx)), {
                "status": run.status, "run_name": run.run_name,
                "failure": run.end_tags.get(contract.FAILURE_TAG)})
        lost = set(sweep.close_jobs_in_flight(list(pending.values()), contract.FAILED,
                                              contract.WORKER_DIED))
        receiver.forget_in_flight()
        if not lost and len(returns) == done_before:
            raise  # the pool died before any job ran: a new pool would too
        for idx, overrides in list(pending.items()):
            if sweep.job_env(overrides).get(contract.RUN_NAME_ENV) in lost:
                returns[idx] = compat.failed_job(_task_overrides(overrides),
                                                 sweep.WorkerDied(contract.WORKER_DIED))
                del pending[idx]
    except BaseException:
        # Whatever else stops the sweep here (an error of the store, say): joblib's generator
        # is closed in this thread, not collected later in another one, with joblib's warnings.
        stop(jobs)
        raise


def _task_overrides(overrides: Sequence[str]) -> list[str]:
    """A job's overrides of the app's config (Hydra's own left out), as its JobReturn has them."""
    return [o.input_line for o in sweep.parse(overrides)
            if o.input_line is not None and not o.is_hydra_override()]
