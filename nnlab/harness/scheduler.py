"""How a sweep runs through submitit: on Slurm (`hydra/launcher=slurm`) or on submitit's local
executor (`hydra/launcher=local_submitit`), through nnlab's subclasses of the submitit plugin's
launchers (hydra_plugins/nnlab_submitit_launcher).

The plugin's launch submits the jobs and waits for them; here the same steps keep the submitted
jobs, so that Ctrl-C or SIGTERM on the launching process cancels them (one `scancel` for a
Slurm array) and waits until they are gone before the sweeper marks their runs in flight
KILLED. In a job, SIGTERM (what `scancel` sends) ends the job at once, although submitit
ignores it: its run stays RUNNING until the launching process closes it.
"""

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import submitit
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

log = logging.getLogger(__name__)

# How long an interrupted sweep waits for its cancelled jobs to end before it closes their runs.
CANCEL_WAIT_S = 60.0


def submit(launcher: Any, executor_name: str, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> list[submitit.Job]:
    """The jobs, submitted as the plugin's `BaseSubmititLauncher.launch` submits them
    (hydra-submitit-launcher 1.2: one array job on Slurm)."""
    params = launcher.params
    specific_init_keys = {"max_num_timeout"}
    init_params = {"folder": params["submitit_folder"]}
    init_params.update({f"{executor_name}_{key}": value for key, value in params.items()
                        if key in specific_init_keys})
    init_keys = specific_init_keys | {"submitit_folder"}
    executor = submitit.AutoExecutor(cluster=executor_name, **init_params)
    base_params = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{
        key if key in base_params else f"{executor_name}_{key}": value
        for key, value in params.items() if key not in init_keys})

    config = launcher.config
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if "mode" in config.hydra.sweep:
        os.chmod(sweep_dir, mode=int(str(config.hydra.sweep.mode), 8))
    job_params = []
    for offset, overrides in enumerate(job_overrides):
        idx = initial_job_idx + offset
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        job_params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}",
                           Singleton.get_state()))
    return executor.map_array(launcher, *zip(*job_params, strict=True))


def launch(launcher: Any, executor_name: str, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> list[JobReturn]:
    """Submit the jobs and wait for their returns; interrupted, cancel them first."""
    jobs = submit(launcher, executor_name, job_overrides, initial_job_idx)
    try:
        return [job.results()[0] for job in jobs]
    except KeyboardInterrupt:
        cancel(jobs, executor_name)
        raise


def slurm_job_ids(jobs: Sequence[submitit.Job]) -> list[str]:
    """The Slurm ids of the jobs' array jobs (`123` for the tasks `123_0`, `123_1`, ...)."""
    return sorted({str(job.job_id).split("_", 1)[0] for job in jobs})


def in_queue(job_ids: Sequence[str]) -> list[str]:
    """The jobs (array tasks) of these Slurm jobs that squeue still lists (pending, running or
    completing). squeue fails on an id it has forgotten (ended more than MinJobAge ago): gone
    too; and when squeue cannot answer, nothing is known to be left."""
    try:
        done = subprocess.run(["squeue", "--noheader", "--format=%i %T",
                               "--jobs", ",".join(job_ids)],
                              capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def cancel(jobs: Sequence[submitit.Job], executor_name: str,
           timeout: float = CANCEL_WAIT_S) -> None:
    """Cancel the jobs and wait until none runs: the runs still RUNNING then are the ones in
    flight, and no job can end them later. A second Ctrl-C stops the wait."""
    deadline = time.monotonic() + timeout
    if executor_name == "slurm":
        ids = slurm_job_ids(jobs)
        # One call for the whole array: a task pending now cannot start between two calls.
        with suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["scancel", *ids], check=False, timeout=30)
        while in_queue(ids) and time.monotonic() < deadline:
            time.sleep(0.5)
        return
    # A local job's id is the pid of its controller process, which passes SIGTERM on to the job
    # (submitit's LocalJob.cancel sends SIGINT, on which the controller prints a traceback).
    for job in jobs:
        if not job.done():
            with suppress(ProcessLookupError):
                os.kill(int(job.job_id), signal.SIGTERM)
    while not all(job.done() for job in jobs) and time.monotonic() < deadline:
        time.sleep(0.2)


def run_task(call: Callable[..., JobReturn], *args: Any) -> JobReturn:
    """A job in its Slurm task (or local process), which SIGTERM ends at once, as it ends any
    program: submitit ignores SIGTERM so that a job may checkpoint before Slurm's KillWait
    (30 s by default) runs out, and an nnlab job has nothing to save. (An exception raised
    where the signal lands, as Ctrl-C raises one, can leave the process hanging at exit: a
    lock of the HTTP client taken and never released.)"""
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        return call(*args)
    finally:
        signal.signal(signal.SIGTERM, previous)
