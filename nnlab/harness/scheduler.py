"""How a sweep runs through submitit: on Slurm (`hydra/launcher=slurm`) or on submitit's local
executor (`hydra/launcher=local_submitit`), through nnlab's subclasses of the submitit plugin's
launchers (hydra_plugins/nnlab_submitit_launcher).

The plugin's launch submits the jobs and waits for them; here the same steps keep the submitted
jobs, so that Ctrl-C or SIGTERM on the launching process cancels them (one `scancel` for a
Slurm array) and waits until they are gone before the sweeper marks their runs in flight
KILLED. In a job, SIGTERM (what `scancel` sends) ends the job at once, although submitit
ignores it: its run stays RUNNING until the launching process closes it.

submitit repeats its warnings at every poll of the scheduler ("Call #3 - Bypassing sacct error
...": on a cluster without accounting, every poll), to stdout, to stderr and to Hydra's console
handler, and sacct prints its own error beside them: here each distinct warning is printed
once, on one line, with sacct's message in it.
"""

import logging
import os
import re
import signal
import subprocess
import sys
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
from submitit.slurm.slurm import SlurmInfoWatcher

log = logging.getLogger(__name__)

# How long an interrupted sweep waits for its cancelled jobs to end before it closes their runs.
CANCEL_WAIT_S = 60.0
SUBMITIT_LOGGER = "submitit"
# The longest time between two polls of sacct once the jobs run long (submitit's SlurmJob's).
SACCT_DELAY_S = 600
_CALL_NUMBER = re.compile(r"^Call #\d+ - ")


class OncePerMessage(logging.Filter):
    """Each distinct message once, on one line (the poll count of "Call #N - ..." left out of
    what makes two messages the same)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = " ".join(record.getMessage().split())
        key = _CALL_NUMBER.sub("", message)
        if key in self.seen:
            return False
        self.seen.add(key)
        record.msg, record.args = message, None
        return True


def quiet_submitit_logging() -> None:
    """submitit's logger in the launching process: each warning once, on stderr only.

    Importing submitit gives its logger a stdout handler (every level) and a stderr one
    (warnings), and the logger propagates to Hydra's console handler too: a warning is printed
    three times. With SUBMITIT_LOG_LEVEL=NOCONFIG the user configures it: only the filter then.
    """
    logger = logging.getLogger(SUBMITIT_LOGGER)
    if not any(isinstance(f, OncePerMessage) for f in logger.filters):
        logger.addFilter(OncePerMessage())
    if os.environ.get("SUBMITIT_LOG_LEVEL", "").upper() == "NOCONFIG":
        return
    for handler in list(logger.handlers):
        if getattr(handler, "stream", None) is not sys.stderr:
            logger.removeHandler(handler)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            "%(name)s %(levelname)s (%(asctime)s) - %(message)s"))
        logger.addHandler(handler)
    for handler in logger.handlers:
        handler.setLevel(logging.WARNING)
    logger.propagate = False


class SacctWatcher(SlurmInfoWatcher):
    """submitit's poll of the job states, with sacct's error message in submitit's warning
    instead of on the console (submitit runs sacct with its stderr inherited).

    `update` is submitit 1.5's `InfoWatcher.update` (the state it keeps is submitit's),
    running sacct with its output captured."""

    def update(self) -> None:
        command = self._make_command()
        if command is None:
            return
        self._num_calls += 1
        try:
            done = subprocess.run(command, capture_output=True, check=False, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            reason = str(error)
        else:
            if done.returncode == 0:
                self._output = done.stdout
                self._info_dict.update(self.read_info(done.stdout))
                reason = ""
            else:
                message = " ".join(done.stderr.decode(errors="replace").split())
                reason = f"sacct exited with {done.returncode}: {message or 'no message'}"
        if reason:
            logging.getLogger(SUBMITIT_LOGGER).warning(
                f"Call #{self.num_calls} - Bypassing sacct error ({reason}), status may be "
                "inaccurate.")
        self._last_status_check = time.time()


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
    quiet_submitit_logging()
    jobs = submit(launcher, executor_name, job_overrides, initial_job_idx)
    if executor_name == "slurm":
        watcher = SacctWatcher(delay_s=SACCT_DELAY_S)
        for job in jobs:
            job.watcher = watcher
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
