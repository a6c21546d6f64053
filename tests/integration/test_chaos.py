"""The chaos test: sweeps killed at random moments, in the three ways a sweep dies, then the same
command again. After each trial every config is FINISHED exactly once, no run is RUNNING, no
process of the killed sweep runs on, and the runs kept while the server was gone are logged.

The three kills, all SIGKILL: the sweep's whole session (the OOM killer, a machine going down),
its launching process alone (its workers must end themselves), its tracking server (the sweep
must exit by itself within a minute; the server is then started again on the same store and
port). Real processes throughout: `python -m nnlab.server` on 127.0.0.1, `python -m nnlab.run`
sweeps through it, each trial in its own folder and experiment.

Seeded: the seed, each trial's kind and moment are printed, and NNLAB_CHAOS_SEED replays them
(the moments are drawn within the sweep's duration as measured first, so a replay on a machine
as busy lands the kills alike):

    NNLAB_CHAOS_SEED=7 .venv/bin/python -m pytest -s tests/integration/test_chaos.py
"""

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest
from conftest import SHORT
from mlflow.tracking import MlflowClient
from sweep_processes import start_nnlab, still_running, sweep_processes
from test_dead_server import EXIT_WITHIN_S, ONE_LINE
from tracking_server import Running, kill, start, stop

from nnlab import contract
from nnlab.tracking import unlogged

pytestmark = pytest.mark.process

SEED_ENV = "NNLAB_CHAOS_SEED"
DEFAULT_SEED = 1201
KINDS = ("session", "launcher", "server")
TRIALS_PER_KIND = 4
# 12 jobs of well under a second on 2 workers: a sweep of several seconds, most of them in
# its jobs, so that a kill drawn within it lands while runs are created, trained and logged.
SWEEP = ["-m", "seed=range(6)", "activation=relu,sigmoid", *SHORT, "hydra.launcher.n_jobs=2"]
NAMES = sorted(f"{activation}-s{seed}" for activation in ("relu", "sigmoid")
               for seed in range(6))
# The earliest kill, counted from the sweep's first line (its plan made, its parent run open),
# and the latest, a fraction of a whole sweep's span: sweeps on busy cores vary by a second or
# two, and a kill drawn after the sweep's end tests nothing.
FIRST_MOMENT_S = 0.5
LAST_MOMENT_OF_SPAN = 0.75
# Every process of a killed sweep is gone this long after the kill (after the sweep's exit,
# when the server was killed): the workers watch the launching process every second or so.
GONE_WITHIN_S = 10.0
# A short wait on the store for speed; the first server kill keeps the default (30 s).
FAST_STORE_TIMEOUT_S = "10"
KEPT_LINE_PREFIX = "nnlab: logged "
SWEEP_TIMEOUT_S = 300


@dataclass
class Trial:
    """What one kill did, and what the same command left in the store after it."""

    number: int
    kind: str
    moment_s: float  # from the sweep's first line to the kill
    store_timeout: str  # NNLAB_STORE_TIMEOUT of both sweeps ("" for the default)
    landed: bool = False  # the sweep still ran when it was killed
    killed_returncode: int | None = None
    exit_s: float | None = None  # server kills: from the server's death to the sweep's exit
    gone_s: float | None = None  # until no process of the killed sweep was left
    orphans: list[str] = field(default_factory=list)  # its processes left after GONE_WITHIN_S
    kept: int = 0  # runs kept in ./nnlab-unlogged by the killed sweep
    synced: int = 0  # of those, logged by the same command again
    left_unlogged: int = 0  # kept runs still there after it
    lost: int = 0  # runs (parent runs included) closed as lost
    finished: dict[str, int] = field(default_factory=dict)  # FINISHED job runs per run name
    running: list[str] = field(default_factory=list)  # runs RUNNING at the end
    again_returncode: int | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def read_start_line(sweep: subprocess.Popen) -> str:
    """The sweep's first line, `nnlab: running 12 -> ...`: its plan is made and its store open."""
    assert sweep.stdout is not None and sweep.stderr is not None  # start_nnlab pipes both
    line = sweep.stdout.readline()
    if not line.startswith("nnlab: running "):
        sweep.kill()
        pytest.fail(f"the sweep did not start: {line}{sweep.communicate(timeout=60)[1]}")
    return line


def calibrate(url: str, cwd: Path) -> float:
    """Seconds from a whole sweep's first line to its exit, the span the kills are drawn in."""
    cwd.mkdir()
    sweep = start_nnlab(cwd, *SWEEP, "experiment_name=chaos-calibration",
                        env={"MLFLOW_TRACKING_URI": url})
    read_start_line(sweep)
    started = time.monotonic()
    _, stderr = sweep.communicate(timeout=SWEEP_TIMEOUT_S)
    assert sweep.returncode == 0, stderr
    return time.monotonic() - started


def command_lines(pids: dict[int, str]) -> list[str]:
    lines = []
    for pid in pids:
        with suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            lines.append(f"{pid}: {command.strip()}")
    return lines


def wait_until_gone(cwd: Path, sweep_dir: str, seen: dict[int, str],
                    since: float) -> tuple[float | None, list[str]]:
    """Seconds from `since` until no process of the sweep (those `seen` before the kill, and
    any with its marker) is left, or None and the command lines of those left after
    GONE_WITHIN_S, which are then killed."""
    deadline = since + GONE_WITHIN_S
    while True:
        left = {**still_running(seen), **sweep_processes(cwd, sweep_dir)}
        if not left:
            return time.monotonic() - since, []
        if time.monotonic() > deadline:
            orphans = command_lines(left)
            for pid in left:  # this test's own processes, by pid
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return None, orphans
        time.sleep(0.05)


def kept_runs(cwd: Path) -> int:
    return len(unlogged.kept_runs(where=cwd / contract.UNLOGGED_DIR))


def check_store(trial: Trial, url: str, experiment_name: str) -> None:
    """Every config FINISHED exactly once (by run name and by config hash), nothing RUNNING,
    the runs closed as lost counted."""
    client = MlflowClient(url)
    experiment = client.get_experiment_by_name(experiment_name)
    assert experiment is not None, experiment_name
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    jobs = [run for run in runs if run.data.tags.get(contract.KIND_TAG) != contract.SWEEP_KIND]
    finished = [run for run in jobs if run.info.status == "FINISHED"]
    trial.finished = dict(sorted(Counter(run.info.run_name or "" for run in finished).items()))
    if sorted(trial.finished) != NAMES or set(trial.finished.values()) != {1}:
        trial.problems.append(f"FINISHED runs per config: {trial.finished}")
    hashes = Counter(run.data.tags.get(contract.CONFIG_HASH_TAG) for run in finished)
    if len(hashes) != len(NAMES) or set(hashes.values()) != {1}:
        trial.problems.append(f"FINISHED runs per config hash: {dict(hashes)}")
    trial.running = sorted(run.info.run_name or run.info.run_id for run in runs
                           if run.info.status == "RUNNING")
    if trial.running:
        trial.problems.append(f"RUNNING at the end: {trial.running}")
    trial.lost = sum(run.data.tags.get(contract.LOST_TAG) == "true" for run in runs)


def kill_sweep(trial: Trial, sweep: subprocess.Popen, server: Running) -> float:
    """Kill as the trial's kind says; the moment the kill took effect (for a server kill, the
    sweep's exit, from when its processes must be gone). A sweep that has ended is not killed:
    its pid may be reaped and taken by another process already."""
    if not trial.landed:
        return time.monotonic()
    if trial.kind == "session":
        os.killpg(sweep.pid, signal.SIGKILL)
    elif trial.kind == "launcher":
        os.kill(sweep.pid, signal.SIGKILL)
    else:
        kill(server)
    killed = time.monotonic()
    if trial.kind != "server":
        return killed
    while sweep.poll() is None and time.monotonic() < killed + 2 * EXIT_WITHIN_S:
        time.sleep(0.05)
    exited = time.monotonic()
    if sweep.poll() is None:
        trial.problems.append(f"the sweep still ran {2 * EXIT_WITHIN_S} s after its server died")
        os.killpg(sweep.pid, signal.SIGKILL)
    elif trial.landed:
        trial.exit_s = round(exited - killed, 2)
        if trial.exit_s > EXIT_WITHIN_S:
            trial.problems.append(f"the sweep exited {trial.exit_s} s after its server died")
    return exited


def check_killed_output(trial: Trial, sweep: subprocess.Popen) -> None:
    """A sweep that lost its server exits 1 with one line saying how many runs it kept."""
    try:
        _, stderr = sweep.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # a process left holding its pipes: an orphan, counted
        with suppress(ProcessLookupError):
            os.killpg(sweep.pid, signal.SIGKILL)
        _, stderr = sweep.communicate(timeout=30)
    trial.killed_returncode = sweep.returncode
    if trial.kind != "server" or not trial.landed:
        return
    lines = stderr.strip().splitlines()
    match = ONE_LINE.fullmatch(lines[0]) if len(lines) == 1 else None
    if sweep.returncode != 1 or match is None:
        trial.problems.append(f"exit {sweep.returncode} after its server died: {stderr!r}")
    elif int(match["kept"] or 0) != trial.kept:
        trial.problems.append(f"said {match['kept']} runs kept, {trial.kept} are")


def run_trial(trial: Trial, server: Running, home: Path, work: Path) -> Running:
    """One kill and the same command again; the server, started again if it was killed."""
    began = time.monotonic()
    cwd = work / f"trial-{trial.number:02d}"
    cwd.mkdir()
    experiment_name = f"chaos-{trial.number:02d}"
    args = [*SWEEP, f"experiment_name={experiment_name}"]
    env = {"MLFLOW_TRACKING_URI": server.base_url}
    if trial.store_timeout:
        env[contract.STORE_TIMEOUT_ENV] = trial.store_timeout
    sweep = start_nnlab(cwd, *args, sweep_dir="killed", own_session=True, env=env)
    try:
        read_start_line(sweep)
        time.sleep(trial.moment_s)
        trial.landed = sweep.poll() is None
        seen = sweep_processes(cwd, "killed")
        since = kill_sweep(trial, sweep, server)
        trial.gone_s, trial.orphans = wait_until_gone(cwd, "killed", seen, since)
        if trial.gone_s is not None:
            trial.gone_s = round(trial.gone_s, 2)
        trial.kept = kept_runs(cwd)
        check_killed_output(trial, sweep)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(sweep.pid, signal.SIGKILL)
    if trial.orphans:
        trial.problems.append(f"processes left {GONE_WITHIN_S} s after the kill: {trial.orphans}")
    if trial.kind == "server" and trial.landed:
        server = start("nnlab.server", [], home, port=server.port)

    again = start_nnlab(cwd, *args, sweep_dir="again", env=env)
    stdout, stderr = again.communicate(timeout=SWEEP_TIMEOUT_S)
    trial.again_returncode = again.returncode
    if again.returncode != 0:
        trial.problems.append(f"the same command exited {again.returncode}: {stderr.strip()}")
    first = stdout.splitlines()[0] if stdout else ""
    if first.startswith(KEPT_LINE_PREFIX):
        trial.synced = int(first.removeprefix(KEPT_LINE_PREFIX).split()[0])
    trial.left_unlogged = kept_runs(cwd)
    if trial.synced != trial.kept or trial.left_unlogged:
        trial.problems.append(f"{trial.kept} runs kept, {trial.synced} logged by the same "
                              f"command, {trial.left_unlogged} still kept")
    _, left = wait_until_gone(cwd, "again", {}, time.monotonic())
    if left:
        trial.problems.append(f"processes of the completed sweep left: {left}")
    check_store(trial, server.base_url, experiment_name)
    trial.seconds = round(time.monotonic() - began, 1)
    return server


def summary(seed: int, span_s: float, trials: list[Trial], total_s: float) -> dict:
    exits = [trial.exit_s for trial in trials if trial.exit_s is not None]
    return {
        "seed": seed,
        "sweep_span_s": round(span_s, 2),
        "trials": len(trials),
        "kills": {kind: sum(trial.kind == kind for trial in trials) for kind in KINDS},
        "kills_landed_mid_sweep": {kind: sum(trial.kind == kind and trial.landed
                                             for trial in trials) for kind in KINDS},
        "runs_closed_as_lost": sum(trial.lost for trial in trials),
        "kept_runs": sum(trial.kept for trial in trials),
        "kept_runs_synced": sum(trial.synced for trial in trials),
        "orphans_found": sum(len(trial.orphans) for trial in trials),
        "longest_gone_s": max((trial.gone_s or 0.0 for trial in trials), default=0.0),
        "longest_exit_after_server_death_s": max(exits, default=None),
        "total_s": round(total_s, 1),
        "problems": sum(len(trial.problems) for trial in trials),
        "per_trial": [asdict(trial) for trial in trials],
    }


def table(figures: dict) -> str:
    rows = [f"chaos summary (seed {figures['seed']}, sweep span {figures['sweep_span_s']} s)",
            "| # | kind | moment s | timeout | landed | exit s | gone s | kept | synced | lost "
            "| problems |"]
    for trial in figures["per_trial"]:
        rows.append(
            f"| {trial['number']} | {trial['kind']} | {trial['moment_s']} | "
            f"{trial['store_timeout'] or 'default'} | {trial['landed']} | "
            f"{trial['exit_s'] if trial['exit_s'] is not None else '-'} | {trial['gone_s']} | "
            f"{trial['kept']} | {trial['synced']} | {trial['lost']} | {len(trial['problems'])} |")
    rows += [
        f"trials: {figures['trials']}; kills: {figures['kills']}, landed mid-sweep: "
        f"{figures['kills_landed_mid_sweep']}",
        f"runs closed as lost: {figures['runs_closed_as_lost']}; kept runs: "
        f"{figures['kept_runs']}, synced: {figures['kept_runs_synced']}; orphans found: "
        f"{figures['orphans_found']}; longest until gone: {figures['longest_gone_s']} s",
        f"longest exit after a server death: {figures['longest_exit_after_server_death_s']} s; "
        f"total: {figures['total_s']} s; problems: {figures['problems']}",
    ]
    return "\n".join(rows)


def test_sweeps_killed_at_random_moments_leave_each_config_finished_once_and_nothing_behind(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    began = time.monotonic()
    seed = int(os.environ.get(SEED_ENV, DEFAULT_SEED))
    rng = random.Random(seed)
    kinds = [kind for kind in KINDS for _ in range(TRIALS_PER_KIND)]
    rng.shuffle(kinds)
    home, work = tmp_path / "server", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    server = start("nnlab.server", [], home)
    trials: list[Trial] = []
    span_s = 0.0
    try:
        span_s = calibrate(server.base_url, work / "calibration")
        last_moment_s = max(FIRST_MOMENT_S, LAST_MOMENT_OF_SPAN * span_s)
        print(f"chaos: seed {seed} ({SEED_ENV}), kills drawn in [{FIRST_MOMENT_S}, "
              f"{last_moment_s:.2f}] s after the sweep's first line (a whole sweep: "
              f"{span_s:.2f} s)")
        default_timeout_trial = kinds.index("server")
        for index, kind in enumerate(kinds):
            store_timeout = "" if index == default_timeout_trial else FAST_STORE_TIMEOUT_S
            trial = Trial(index + 1, kind, round(rng.uniform(FIRST_MOMENT_S, last_moment_s), 2),
                          store_timeout)
            print(f"chaos: trial {trial.number}: {kind} killed at {trial.moment_s} s "
                  f"(NNLAB_STORE_TIMEOUT={store_timeout or 'default'})", flush=True)
            server = run_trial(trial, server, home, work)
            trials.append(trial)
            print(f"chaos: trial {trial.number}: landed={trial.landed} exit_s={trial.exit_s} "
                  f"gone_s={trial.gone_s} kept={trial.kept} synced={trial.synced} "
                  f"lost={trial.lost} {trial.seconds} s; problems: {trial.problems}", flush=True)
    finally:
        stop(server.process)
    figures = summary(seed, span_s, trials, time.monotonic() - began)
    report = tmp_path / "chaos-summary.json"
    report.write_text(json.dumps(figures, indent=2))
    with capsys.disabled():  # shown by `make test-integration` too, not only on failure
        print(f"\n{table(figures)}\nchaos: figures in {report}")
    problems = [f"trial {trial.number} ({trial.kind} at {trial.moment_s} s, seed {seed}): "
                f"{problem}" for trial in trials for problem in trial.problems]
    assert not problems, "\n".join(problems)
    assert all(figures["kills_landed_mid_sweep"].values()), figures["kills_landed_mid_sweep"]
