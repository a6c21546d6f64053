"""The run contract: the names under which a run is written and read back, in one place.

Every writer (the Hydra app, the sweep, the launcher) and every reader (the report, the rerun)
of runs uses these names; DESIGN.md and the README list them for users. Nothing here imports
MLflow or Hydra.
"""

import hashlib
import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# MLflow's run statuses, as the store spells them.
RUNNING, FINISHED, FAILED, KILLED = "RUNNING", "FINISHED", "FAILED", "KILLED"
NOT_TERMINATED = ("RUNNING", "SCHEDULED")

# Tags of every run.
SWEEP_ID_TAG = "nnlab.sweep_id"
CONFIG_HASH_TAG = "nnlab.config_hash"
RECIPE_TAG = "nnlab.recipe"
FAILURE_TAG = "nnlab.failure"  # the human message of a FAILED or KILLED run
DIVERGED_AT_TAG = "nnlab.diverged_at"  # the step at which a diverged run's loss left the floats
ARM_TAG = "nnlab.arm"  # the values its sweep varies, the seed aside: `activation=relu`
# The arm of a run whose sweep varies only the seed, or that ran alone, with no overrides.
DEFAULTS_ARM = "(defaults)"
# MLflow's names for the checkout: its commit, and whether tracked files had uncommitted changes.
COMMIT_TAG = "mlflow.source.git.commit"
DIRTY_TAG = "mlflow.source.git.dirty"
DIFF_DIGEST_TAG = "nnlab.git_diff"  # a digest of the uncommitted changes (DIFF_ARTIFACT)
# `nnlab.env.python`, `nnlab.env.blas_kernel`, ...: where the run's numbers were computed.
ENV_TAG_PREFIX = "nnlab.env."
# `nnlab.sweep.<id>` on a run that sweep <id> skipped because it had finished before (resume).
MEMBER_TAG_PREFIX = "nnlab.sweep."
# MLflow's nested runs: each run of a sweep names the sweep's parent run.
PARENT_RUN_TAG = "mlflow.parentRunId"
# Who runs a run (a job's run: its worker; a sweep's parent run: the launching process), so that
# any reader of the store can tell a run in flight from one whose process is gone
# (nnlab.liveness). MLflow keeps the run's start time.
HOST_TAG = "nnlab.host"
PID_TAG = "nnlab.pid"
PID_START_TAG = "nnlab.pid_start"  # the process's start, in clock ticks after boot (/proc)
HEARTBEAT_TAG = "nnlab.heartbeat"  # epoch seconds, refreshed while the process runs the run
# A run closed because the process that ran it is gone: FAILED, with LOST_FAILURE.
LOST_TAG = "nnlab.lost"
LOST_FAILURE = "lost: the process that ran it is gone"

# The artifacts of every run beside its config, weights and figures.
ENVIRONMENT_ARTIFACT = "environment.json"
DIFF_ARTIFACT = "git_diff.patch"  # `git diff HEAD` of a dirty checkout

# A sweep's parent run: `nnlab.kind=sweep`, the sweep's id, its command line; its params are the
# sweep's overrides as typed; at the end, a tag per outcome and the wall time (tags, not
# metrics: the UI's charts of the runs stay the runs' own).
KIND_TAG = "nnlab.kind"
SWEEP_KIND = "sweep"
COMMAND_TAG = "nnlab.command"
SKIPPED_ARTIFACT = "skipped_runs.csv"  # the finished runs a resumed sweep counts without rerunning
WALL_TIME_TAG = "nnlab.wall_time_s"
COUNT_TAG_PREFIX = "nnlab.runs."  # `nnlab.runs.finished`, ...
# A tuned sweep's parent run (nnlab.tuning): the tuned key's value in the config (the
# tutorial's), and each arm's chosen value (`activation=relu: 0.03; activation=sigmoid: 1.0`).
TUNE_DEFAULT_TAG = "nnlab.tune.default"
TUNE_CHOSEN_TAG = "nnlab.tune.chosen"
# How the jobs of a sweep ended, as its parent run counts them.
SWEEP_OUTCOMES = ("finished", "diverged", "crashed", "worker_died", "killed", "running", "lost",
                  "skipped")

# The per-step metric of a run.
TRAIN_LOSS_SERIES = "train_loss"
# Durations: they differ between any two runs of one config, whatever the runs compute.
WALL_CLOCK_METRICS = ("train_time_s", "time_per_step_ms")

# What the launching process hands each job of a sweep, through its environment.
SWEEP_ID_ENV = "NNLAB_SWEEP_ID"
EXPERIMENT_ID_ENV = "NNLAB_EXPERIMENT_ID"
SWEEP_SIZE_ENV = "NNLAB_SWEEP_SIZE"
GIT_COMMIT_ENV = "NNLAB_GIT_COMMIT"
GIT_DIFF_ENV = "NNLAB_GIT_DIFF_FILE"  # the file holding the checkout's diff; "" for a clean one
RUN_NAME_ENV = "NNLAB_RUN_NAME"
ARM_ENV = "NNLAB_ARM"
PARENT_RUN_ENV = "NNLAB_PARENT_RUN_ID"
# Seconds between two heartbeats (nnlab.liveness.HEARTBEAT_S by default): for tests.
HEARTBEAT_ENV = "NNLAB_HEARTBEAT_S"
# Set in a worker of nnlab's launcher: the folder its job hands its run over in (tracking.handoff).
HANDOFF_ENV = "NNLAB_HANDOFF_DIR"
JOB_ENV = (SWEEP_ID_ENV, EXPERIMENT_ID_ENV, SWEEP_SIZE_ENV, GIT_COMMIT_ENV, GIT_DIFF_ENV,
           RUN_NAME_ENV, ARM_ENV, PARENT_RUN_ENV)

# How long, in seconds, nnlab waits for the tracking store to answer one call, its retries
# included, before it gives up (default STORE_TIMEOUT_S).
STORE_TIMEOUT_ENV = "NNLAB_STORE_TIMEOUT"
STORE_TIMEOUT_S = 30.0
# Where the runs that finished but could not be logged wait for `python -m nnlab.sync`: beside
# a SQLite store, else in the launching directory (outside multirun/ and outputs/, which
# `make clean` removes).
UNLOGGED_DIR = "nnlab-unlogged"

# The failure of the runs in flight on a worker that died.
WORKER_DIED = "worker died (killed or out of memory; loky then stops the pool's other jobs too)"


def failure_message(diverged_at: int) -> str:
    """The human `nnlab.failure` of a run that diverged at that step."""
    return f"diverged at step {diverged_at}"


def diverged(tags: dict[str, str]) -> bool:
    """Whether a run's tags say it diverged. Runs logged before `nnlab.diverged_at` existed
    say it only in their failure message."""
    return DIVERGED_AT_TAG in tags or tags.get(FAILURE_TAG, "").startswith("diverged")


def is_lost(tags: dict[str, str]) -> bool:
    """Whether a run was closed because the process that ran it was gone."""
    return tags.get(LOST_TAG) == "true"


def is_sweep_parent(tags: dict[str, str]) -> bool:
    """Whether a run is a sweep's parent run, not one of its jobs."""
    return tags.get(KIND_TAG) == SWEEP_KIND


def new_sweep_id() -> str:
    """Sortable by start time, unique across machines."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def package_version() -> str:
    """nnlab's version, as installed (pyproject.toml is its one source)."""
    try:
        return version("nnlab")
    except PackageNotFoundError:
        return "0+unknown"


def _git(*args: str) -> str | None:
    """`git args` in nnlab's folder: its output, or None outside a checkout (or without git)."""
    try:
        out = subprocess.run(["git", "--no-optional-locks", *args], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


@dataclass(frozen=True)
class Checkout:
    """The nnlab checkout that computes: its commit and its uncommitted changes to tracked files
    (`git status` says whether there are any, `git diff HEAD` what they are)."""

    commit: str | None
    dirty: bool = False
    diff: str = ""

    @property
    def diff_digest(self) -> str | None:
        return hashlib.sha256(self.diff.encode()).hexdigest()[:12] if self.dirty else None

    def tags(self) -> dict[str, str]:
        """The run tags that record it (none outside a checkout)."""
        if self.commit is None:
            return {}
        tags = {COMMIT_TAG: self.commit, DIRTY_TAG: str(self.dirty).lower()}
        if self.dirty:
            tags[DIFF_DIGEST_TAG] = str(self.diff_digest)
        return tags


def checkout() -> Checkout:
    """This process's checkout. A sweep's launching process hands its own to the jobs (commit
    and diff file), which then need no git and all record the same one."""
    if GIT_COMMIT_ENV in os.environ:
        diff_file = os.environ.get(GIT_DIFF_ENV, "")
        return Checkout(os.environ[GIT_COMMIT_ENV] or None, bool(diff_file),
                        Path(diff_file).read_text() if diff_file else "")
    head = _git("rev-parse", "HEAD")
    if head is None:
        return Checkout(None)
    status = _git("status", "--porcelain", "--untracked-files=no") or ""
    diff = (_git("diff", "HEAD") or "") if status.strip() else ""
    return Checkout(head.strip(), bool(status.strip()), diff)


def code_version(code: Checkout) -> str:
    """What computed a run: nnlab's version and, from a checkout, its git commit and a digest of
    its uncommitted changes (a run on edited code is never taken for one on the commit)."""
    version = f"{package_version()}+{code.commit or 'unknown'}"
    return f"{version}.dirty.{code.diff_digest}" if code.dirty else version
