"""The run contract: the names under which a run is written and read back, in one place.

Every writer (the Hydra app, the sweep, the launcher) and every reader (the report, the rerun)
of runs uses these names; DESIGN.md and the README list them for users. Nothing here imports
MLflow or Hydra.
"""

import os
import subprocess
import time
import uuid
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
COMMIT_TAG = "mlflow.source.git.commit"
# `nnlab.sweep.<id>` on a run that sweep <id> skipped because it had finished before (resume).
MEMBER_TAG_PREFIX = "nnlab.sweep."

# The per-step metric of a run.
TRAIN_LOSS_SERIES = "train_loss"
# Durations: they differ between any two runs of one config, whatever the runs compute.
WALL_CLOCK_METRICS = ("train_time_s", "time_per_step_ms")

# What the launching process hands each job of a sweep, through its environment.
SWEEP_ID_ENV = "NNLAB_SWEEP_ID"
EXPERIMENT_ID_ENV = "NNLAB_EXPERIMENT_ID"
SWEEP_SIZE_ENV = "NNLAB_SWEEP_SIZE"
GIT_COMMIT_ENV = "NNLAB_GIT_COMMIT"
RUN_NAME_ENV = "NNLAB_RUN_NAME"
JOB_ENV = (SWEEP_ID_ENV, EXPERIMENT_ID_ENV, SWEEP_SIZE_ENV, GIT_COMMIT_ENV, RUN_NAME_ENV)


def failure_message(diverged_at: int) -> str:
    """The human `nnlab.failure` of a run that diverged at that step."""
    return f"diverged at step {diverged_at}"


def diverged(tags: dict[str, str]) -> bool:
    """Whether a run's tags say it diverged. Runs logged before `nnlab.diverged_at` existed
    say it only in their failure message."""
    return DIVERGED_AT_TAG in tags or tags.get(FAILURE_TAG, "").startswith("diverged")


def new_sweep_id() -> str:
    """Sortable by start time, unique across machines."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def package_version() -> str:
    """nnlab's version, as installed (pyproject.toml is its one source)."""
    try:
        return version("nnlab")
    except PackageNotFoundError:
        return "0+unknown"


def git_commit() -> str | None:
    """The commit of the nnlab checkout that runs, if it is one (a sweep's launching process
    hands its own to the jobs, which then need no git)."""
    if GIT_COMMIT_ENV in os.environ:
        return os.environ[GIT_COMMIT_ENV] or None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_version(commit: str | None) -> str:
    """What computed a run: nnlab's version and, from a checkout, its git commit."""
    return f"{package_version()}+{commit or 'unknown'}"
