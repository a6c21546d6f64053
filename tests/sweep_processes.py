"""Sweeps as real processes, for the fault tests: start one (in its own session, if it is to be
killed whole), wait until its store holds runs, and find every process it started.

Every process a sweep started by `start_nnlab` starts carries SWEEP_MARKER_ENV in its
environment (the sweep's folder), whoever its parent is by then: `sweep_processes` finds them
after the launching process is gone too.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

from conftest import env_without_tracking_uri

SWEEP_MARKER_ENV = "NNLAB_TEST_SWEEP_DIR"
# Jobs of ~2 s of training: long enough to be caught running.
SLOW = ["dataset.n_samples=640", "dataset.n_test=200", "epochs=1000", "log_every=100"]


def _default_sigint() -> None:
    # A suite started with SIGINT ignored (a background job of a shell script: `make test &`)
    # would hand that to the sweep, which then cannot be stopped by Ctrl-C; a terminal's
    # process never has it ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_nnlab(cwd: Path, *args: str, sweep_dir: str = "multirun",
                own_session: bool = False, env: Mapping[str, str] | None = None,
                output: str | None = None) -> subprocess.Popen:
    """`python -m nnlab.run args` in cwd on the store there (or the one `env` names:
    MLFLOW_TRACKING_URI), its output piped, or written to cwd/OUTPUT.out and cwd/OUTPUT.err if
    `output` names them (to be read while it runs); in a session (and process group) of its own
    if `own_session`, so that killing the group kills the sweep and nothing else."""
    folder = cwd / sweep_dir
    with ExitStack() as files:
        out, err = ((subprocess.PIPE, subprocess.PIPE) if output is None else
                    (files.enter_context((cwd / f"{output}.out").open("w")),
                     files.enter_context((cwd / f"{output}.err").open("w"))))
        return subprocess.Popen(
            [sys.executable, "-m", "nnlab.run", *args, f"hydra.sweep.dir={folder}"],
            cwd=cwd,
            env={**env_without_tracking_uri(), SWEEP_MARKER_ENV: str(folder), **(env or {})},
            stdout=out, stderr=err, text=True, preexec_fn=_default_sigint,
            start_new_session=own_session)


def wait_for_runs(sweep: subprocess.Popen, cwd: Path, status: str, count: int,
                  timeout: float = 120, start_line: bool = True) -> None:
    """Block until the sweep's store holds `count` job runs with `status`; first, unless
    `start_line` is False (a single run, into a store that exists), its start line."""
    # The store exists once the sweep says where it runs; reading it earlier would race its
    # creation. Read-only SQL: a poll must not write to the store it watches.
    assert sweep.stdout is not None and sweep.stderr is not None  # both are pipes
    if start_line:
        assert sweep.stdout.readline().startswith("nnlab: "), sweep.stderr.read()
    deadline = time.monotonic() + timeout
    with sqlite3.connect(f"file:{cwd / 'mlflow.db'}?mode=ro", uri=True) as store:
        while time.monotonic() < deadline:
            # The jobs' runs (a sweep's parent run is RUNNING from the start), once they have
            # their params: a run is created, then its params are logged.
            (found,) = store.execute(
                "SELECT count(*) FROM runs WHERE status = ? AND run_uuid NOT IN "
                "(SELECT run_uuid FROM tags WHERE key = 'nnlab.kind') AND run_uuid IN "
                "(SELECT run_uuid FROM params WHERE key = 'seed')", (status,)).fetchone()
            if found >= count:
                return
            assert sweep.poll() is None, sweep.stderr.read()
            time.sleep(0.1)
    raise TimeoutError(f"fewer than {count} {status} runs after {timeout} s")


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/PID/stat's fields from the state on (field 3): the command name may hold spaces."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def workers_of(pid: int) -> list[int]:
    """The loky worker processes started by process `pid`."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(_stat_fields(entry.name)[1])
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if parent == pid and b"LokyProcess" in cmdline:
                children.append(int(entry.name))
    return children


def sweep_processes(cwd: Path, sweep_dir: str = "multirun") -> dict[int, str]:
    """Every live process of the sweep `start_nnlab` started with this folder (the launching
    process, its workers, joblib's resource trackers, ...), by pid, with its start time."""
    marker = f"{SWEEP_MARKER_ENV}={cwd / sweep_dir}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environment = (entry / "environ").read_bytes().split(b"\0")
                fields = _stat_fields(entry.name)
            except OSError:  # gone meanwhile, or another user's
                continue
            if marker in environment and fields[0] not in ("Z", "X"):
                found[int(entry.name)] = fields[19]
    return found


def still_running(processes: dict[int, str]) -> dict[int, str]:
    """Those of `processes` (pid: start time) that still run (a pid reused since is not)."""
    alive = {}
    for pid, started in processes.items():
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        if fields[19] == started and fields[0] not in ("Z", "X"):
            alive[pid] = started
    return alive


def kill_session(sweep: subprocess.Popen) -> None:
    """SIGKILL to every process of the session `start_nnlab(own_session=True)` started."""
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.communicate(timeout=30)
