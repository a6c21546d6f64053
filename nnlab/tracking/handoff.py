"""A sweep's runs handed from its workers to the launching process, the one process of the sweep
that imports MLflow and opens the store.

Importing MLflow costs a worker 1-2 s of CPU, and logging a run through it more than
training one of the tutorials' nets: in nnlab's launcher the workers only train. Each job has a
folder of its own (`job_folder`), in which its worker writes

1. `start.json` when the run starts: the experiment, run name, params, tags and start time;
2. the finished run, as `nnlab.tracking.unlogged` keeps a run (`unlogged.keep`: run.json, the
   series, the dataset's arrays, the artifacts), when it ends (a crash included).

A `Receiver` in the launching process watches the folders: it creates each run as RUNNING once
its start is written (its tags name the launching process as the run's runner, nnlab.liveness,
and it beats their heartbeat), and logs the finished run into it as the job returns, then
deletes the folder. A run in the UI is RUNNING while its job trains, as when workers log.

Nothing computed is lost: a run finished but not logged yet is on disk. When the tracking
server does not answer, the Receiver moves the finished runs to `unlogged.root()`, where
`python -m nnlab.sync` and the next sweep log them. When the launching process is killed, its
workers die with it and its RUNNING runs are closed as lost by the next sweep; the finished runs
left in the sweep's folder are trained again.
"""

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from nnlab import contract, liveness
from nnlab.tracking import unlogged
from nnlab.tracking.records import ServerNotAnswering

log = logging.getLogger(__name__)

START_FILE = "start.json"
# The job's progress line (`[k/N] ` aside), printed by the launching process once it logged the
# run: a line means the run is in the store.
LINE_FILE = "line.txt"
# How often the Receiver looks for runs that started: a run shows as RUNNING this much later.
WATCH_S = 0.05


@dataclass(frozen=True)
class RunStart:
    """What the store's run gets when it is created (`store.start_run`'s arguments)."""

    experiment_id: str
    run_name: str
    params: dict[str, str]
    tags: dict[str, str]
    start_time: int  # ms since the epoch: when the worker started it, not when it is created


def job_folder(directory: Path, job_idx: int) -> Path:
    """The folder of one job of a launch (its Hydra job number)."""
    return directory / str(job_idx)


def announce(folder: Path, start: RunStart) -> None:
    """The worker's side, as its run starts: written under a temporary name and renamed, so a
    start file the Receiver sees is complete."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{START_FILE}.partial"
    temporary.write_text(json.dumps(vars(start)))
    temporary.replace(folder / START_FILE)


def hand_over(folder: Path, run: unlogged.UnloggedRun, line: str) -> Path:
    """The worker's side, as its run ends: the finished run, kept in its job's folder, and the
    job's progress line."""
    (folder / LINE_FILE).write_text(line)
    return unlogged.keep(run, where=folder)


@dataclass(frozen=True)
class Received:
    """A finished run as the Receiver logged or kept it, and its job's progress line."""

    run: unlogged.UnloggedRun
    line: str


def _finished_run(folder: Path) -> Path | None:
    """The finished run a job's worker kept in its folder, if it kept one."""
    kept = unlogged.kept_runs(where=folder)
    return kept[0] if kept else None


class Receiver:
    """The launching process's side for the jobs of one launch, whose folders are below
    `directory`: a context manager; its thread creates the runs that started."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.run_ids: dict[int, str] = {}  # by job number: the runs created, until logged
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: ServerNotAnswering | None = None
        self._watch = threading.Thread(target=self._watch_starts, name="nnlab-receiver",
                                       daemon=True)

    def __enter__(self) -> "Receiver":
        from nnlab.tracking import store

        self.directory.mkdir(parents=True, exist_ok=True)
        self._beating = liveness.heartbeat(lambda: store.beat(self.in_flight()),
                                           liveness.heartbeat_s())
        self._beating.__enter__()
        self._watch.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._watch.join()
        self._beating.__exit__(None, None, None)
        shutil.rmtree(self.directory, ignore_errors=True)

    def in_flight(self) -> list[str]:
        with self._lock:
            return list(self.run_ids.values())

    def check(self) -> None:
        """Raise the ServerNotAnswering the watching thread met, if it met one."""
        if self._error is not None:
            raise self._error

    def _watch_starts(self) -> None:
        while not self._stop.wait(WATCH_S):
            try:
                self.create_started()
            except ServerNotAnswering as error:
                self._error = error
                return
            except Exception:  # the next look tries again; the job's return creates it at last
                log.exception("could not create a started run")

    def create_started(self) -> None:
        """Create the store's run of every job whose start is written and has no run yet."""
        for start_file in sorted(self.directory.glob(f"*/{START_FILE}")):
            self._create(int(start_file.parent.name))

    def _create(self, job_idx: int) -> str | None:
        """The run of a job, created (RUNNING) from its start file if it has none yet."""
        from nnlab.tracking import store

        with self._lock:
            if job_idx in self.run_ids:
                return self.run_ids[job_idx]
            start_file = job_folder(self.directory, job_idx) / START_FILE
            if not start_file.is_file():
                return None
            start = RunStart(**json.loads(start_file.read_text()))
            tags = start.tags | liveness.runner_tags(liveness.this_process(), time.time())
            run_id = store.start_run(start.experiment_id, start.run_name, start.params, tags,
                                     start.start_time)
            self.run_ids[job_idx] = run_id
            start_file.unlink()
            return run_id

    def log(self, job_idx: int) -> Received | None:
        """Log the run a returned job finished (crashed runs included) into its store run, then
        delete its folder; None when the job kept none (its process died, or it failed before
        its run started)."""
        folder = _finished_run(job_folder(self.directory, job_idx))
        run_id = self._create(job_idx)
        if folder is None or run_id is None:
            return None
        received = _received(folder)
        unlogged.end(run_id, received.run)
        with self._lock:
            del self.run_ids[job_idx]
        shutil.rmtree(job_folder(self.directory, job_idx), ignore_errors=True)
        return received

    def settle(self) -> dict[int, Received]:
        """Before the runs in flight are closed (an interrupt, a dead worker): create the runs
        that started and log those that finished, returned or not; by job number."""
        self.create_started()
        logged = {}
        for folder in sorted(self.directory.iterdir()):
            run = self.log(int(folder.name)) if folder.name.isdigit() else None
            if run is not None:
                logged[int(folder.name)] = run
        return logged

    def forget_in_flight(self) -> None:
        """The runs in flight were closed (their worker died): no more heartbeats for them."""
        with self._lock:
            self.run_ids.clear()

    def keep_finished(self) -> list[Received]:
        """The tracking server does not answer: move the finished runs to where `nnlab.sync`
        and the next sweep find them, each with the id of its store run if it was created."""
        kept = []
        for folder in sorted(self.directory.iterdir()):
            finished = _finished_run(folder) if folder.name.isdigit() else None
            if finished is None:
                continue
            received = _received(finished)
            received.run.run_id = self.run_ids.get(int(folder.name))
            unlogged.keep(received.run)
            shutil.rmtree(folder, ignore_errors=True)
            kept.append(received)
        return kept


def _received(kept: Path) -> Received:
    """A kept run of a job's folder, and the job's line (its name alone if it wrote none)."""
    run = unlogged.read(kept)
    line_file = kept.parent.parent / LINE_FILE
    return Received(run, line_file.read_text() if line_file.is_file() else run.run_name)


def job_folder_of_this_job() -> Path | None:
    """The job folder a worker of nnlab's launcher hands its run over in; None when the job
    logs its own run (a single run, Slurm, another launcher)."""
    folder = os.environ.get(contract.HANDOFF_ENV)
    return Path(folder) if folder else None
