"""Whether a run is still in flight, and workers that die with the sweep that started them.

A run records who runs it (contract: `nnlab.host`, `nnlab.pid`, `nnlab.pid_start`) and a
heartbeat (`nnlab.heartbeat`, epoch seconds) that the process running it refreshes every
HEARTBEAT_S seconds. Any reader of the store can then judge a RUNNING run: on the host that runs
it, the process table answers at once (a pid that is gone, or that now belongs to another
process, started at another time, is a run nobody runs); from another host, a heartbeat older
than GRACE_BEATS intervals is. A process killed with SIGKILL cannot close its runs: a later
reader closes them (`nnlab.tracking.store.close_lost_runs`).

A sweep's workers watch the launching process in the same way and end themselves once it is
gone (`exit_with`): loky's workers outlive a launcher killed with SIGKILL, and Linux's
PR_SET_PDEATHSIG would fire when the *thread* that started a worker ends, which for loky's
workers (started and restarted from threads) is any time.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nnlab import contract
from nnlab.constraints import invalid

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0  # the default interval; contract.HEARTBEAT_ENV sets another (tests)
# A run on another host is lost once its last heartbeat is this many intervals old: a beat
# may be late (a busy store, a slow request) and the two hosts' clocks may differ a little.
GRACE_BEATS = 3
# How often a worker checks that its launching process is still there.
LAUNCHER_POLL_S = 1.0
# /proc/PID/stat: the fields after the command name (field 2, in parentheses, which may hold
# spaces) start at field 3, the state; field 22 is the start time in clock ticks after boot.
_STATE, _START_TIME = 0, 19
_GONE_STATES = ("Z", "X")  # a zombie has exited: only its exit status is left to collect


@dataclass(frozen=True)
class Runner:
    """A process, as a run records it: host name, pid and the pid's start time ("" where the
    system does not say)."""

    host: str
    pid: int
    started: str


def heartbeat_s() -> float:
    """Seconds between two heartbeats: contract.HEARTBEAT_ENV, else HEARTBEAT_S."""
    text = os.environ.get(contract.HEARTBEAT_ENV, "")
    if not text:
        return HEARTBEAT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise invalid(contract.HEARTBEAT_ENV, text, "a positive number of seconds (default "
                      f"{HEARTBEAT_S:g})")
    return seconds


def grace_s() -> float:
    """How old a heartbeat may be before its run counts as lost (from another host)."""
    return GRACE_BEATS * heartbeat_s()


def process_start(pid: int) -> str | None:
    """The start time of process `pid` on this host (clock ticks after boot), "" if it runs
    but the system has no /proc to say when it started, None if no such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if Path("/proc/self/stat").exists():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:  # another user's process: it exists
            pass
        return ""
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[_STATE] in _GONE_STATES else fields[_START_TIME]


def this_process() -> Runner:
    pid = os.getpid()
    return Runner(socket.gethostname(), pid, process_start(pid) or "")


def runner_tags(runner: Runner, now: float) -> dict[str, str]:
    """The tags that say who runs a run, and its first heartbeat (among the run's creation
    tags: no request of its own)."""
    return {contract.HOST_TAG: runner.host, contract.PID_TAG: str(runner.pid),
            contract.PID_START_TAG: runner.started, contract.HEARTBEAT_TAG: heartbeat_value(now)}


def heartbeat_value(now: float) -> str:
    return str(int(now))


def is_alive(runner: Runner | None, heartbeat: float, now: float, *, this_host: str,
             start_of: Callable[[int], str | None], grace: float) -> bool:
    """Whether the process recorded as running a run still runs it.

    runner: who runs it (None: the run does not say); heartbeat: its last sign of life, in
    epoch seconds; this_host: the reader's host name; start_of: the start time of a pid on
    this host (`process_start`). On the runner's own host the process table decides: the pid
    runs, and started when the runner did. Elsewhere the heartbeat does: at most `grace` old.
    """
    if runner is not None and runner.host == this_host:
        started = start_of(runner.pid)
        return started is not None and (not runner.started or started == runner.started)
    return now - heartbeat <= grace


def recorded_runner(tags: dict[str, str]) -> Runner | None:
    """Who runs a run, from its tags; None for a run that does not say (logged before nnlab
    recorded it, or by something else)."""
    try:
        pid = int(tags[contract.PID_TAG])
        return Runner(tags[contract.HOST_TAG], pid, tags.get(contract.PID_START_TAG, ""))
    except (KeyError, ValueError):
        return None


def last_sign_of_life(tags: dict[str, str], start_time_ms: int) -> float:
    """A run's last heartbeat in epoch seconds; its start, for a run that has none."""
    try:
        return float(tags[contract.HEARTBEAT_TAG])
    except (KeyError, ValueError):
        return start_time_ms / 1000


def run_is_alive(tags: dict[str, str], start_time_ms: int, now: float) -> bool:
    """`is_alive` for a run read from the store, judged from this process."""
    return is_alive(recorded_runner(tags), last_sign_of_life(tags, start_time_ms), now,
                    this_host=socket.gethostname(), start_of=process_start, grace=grace_s())


@contextmanager
def heartbeat(beat: Callable[[], None], interval: float) -> Iterator[None]:
    """Call `beat` every `interval` seconds (heartbeat_s()) from a daemon thread while the
    block runs.

    The first heartbeat goes in with the run's creation tags (`runner_tags`): a run shorter
    than an interval costs a thread started and stopped, no request. A beat that fails (the
    store busy or unreachable) is logged and tried again at the next one.
    """
    stop = threading.Event()

    def beat_until_stopped() -> None:
        while not stop.wait(interval):
            try:
                beat()
            except Exception as error:
                log.warning("heartbeat not written (next try in %g s): %s", interval, error)

    threading.Thread(target=beat_until_stopped, name="nnlab-heartbeat", daemon=True).start()
    try:
        yield
    finally:
        # Not joined: a beat in progress may take as long as the store's answer, and a beat
        # that lands after the run ended says nothing to a reader (it judges RUNNING runs).
        stop.set()


def exit_with(launcher: Runner) -> None:
    """End this process at once (os._exit, nothing closed: a later reader of the store closes
    its runs) when process `launcher` is gone: a sweep's worker, run by loky as the initializer
    of each worker it starts."""
    def watch() -> None:
        while process_start(launcher.pid) == launcher.started:
            time.sleep(LAUNCHER_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="nnlab-launcher-watch", daemon=True).start()
