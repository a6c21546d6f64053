"""What a sweep does in the launching process, before and after its jobs run.

Before: validate every job's config (a bad value stops the sweep before any job starts and before
anything is written to MLflow), create the store and the experiments (workers must never race to
create them), pin BLAS to one thread per worker, and hand every job its sweep id and experiment
id through Hydra's `hydra.job.env_set`, which works the same with every launcher.
After: one summary line, and an error if a job crashed (a divergence is a result, not a crash).
"""

import dataclasses
import fcntl
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig

from nnlab import schema

SWEEP_ID = "NNLAB_SWEEP_ID"
EXPERIMENT_ID = "NNLAB_EXPERIMENT_ID"
SWEEP_SIZE = "NNLAB_SWEEP_SIZE"
GIT_COMMIT = "NNLAB_GIT_COMMIT"
RUN_NAME = "NNLAB_RUN_NAME"
HASH_TAG = "nnlab.config_hash"
# `nnlab.sweep.<id>` on a run that sweep <id> skipped because it had finished before (resume).
MEMBER_TAG_PREFIX = "nnlab.sweep."
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PROGRESS_FILE = ".nnlab_progress"


class JobCrashed(RuntimeError):
    """One or more jobs raised; the message names them."""


class WorkerDied(RuntimeError):
    """The process running a job was killed (out of memory, a signal): the job's outcome."""


class Interrupted(RuntimeError):
    """The sweep was stopped (Ctrl-C, SIGTERM); the message says what became of its runs."""


def new_sweep_id() -> str:
    """Sortable by start time, unique across machines."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def git_commit() -> str | None:
    """The commit of the nnlab checkout that runs, if it is one."""
    if GIT_COMMIT in os.environ:
        return os.environ[GIT_COMMIT] or None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def run_names(job_overrides: list[list[str]], seeds: list[int]) -> list[str]:
    """Readable names from the values that vary across the sweep: `relu-s3`, `lr0.1-relu-s3`."""
    values: dict[str, set[str]] = {}
    for overrides in job_overrides:
        for override in overrides:
            key, _, value = override.lstrip("+~").partition("=")
            values.setdefault(key, set()).add(value)
    swept = [key for key, seen in values.items() if len(seen) > 1 and key != "seed"]
    names = []
    for overrides, seed in zip(job_overrides, seeds, strict=True):
        chosen = dict(override.lstrip("+~").partition("=")[::2] for override in overrides)
        parts = [_name_part(key, chosen[key]) for key in swept if key in chosen]
        names.append("-".join(parts + [f"s{seed}"]))
    return names


def _name_part(key: str, value: str) -> str:
    # Words speak for themselves (relu); numbers and lists need their key (lr0.1, hidden[4]).
    if value.replace("_", "").isalpha():
        return value
    return f"{key.rsplit('.', 1)[-1]}{value.replace(' ', '')}"


def code_version(commit: str | None) -> str:
    """What computed a run: nnlab's version and, from a checkout, its git commit."""
    from nnlab import __version__

    return f"{__version__}+{commit or 'unknown'}"


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def job_env(overrides: list[str]) -> dict[str, str]:
    """The NNLAB_* variables `register` gave a job, read back from its overrides."""
    prefix = "++hydra.job.env_set."
    env = {}
    for override in overrides:
        if override.startswith(prefix + "NNLAB_"):
            key, _, quoted = override.removeprefix(prefix).partition("=")
            env[key] = quoted[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return env


def close_unfinished(launched: list[list[str]], status: str, reason: str) -> list[str]:
    """Mark the runs of these jobs' sweep that are still RUNNING, after their processes were
    stopped; returns their names."""
    from nnlab import tracking

    envs = [job_env(overrides) for overrides in launched]
    if not envs:
        return []
    return tracking.close_unfinished(envs[0][SWEEP_ID], {env[EXPERIMENT_ID] for env in envs},
                                     status, reason)


def override_key(override: str) -> str:
    """The key an override sets: `seed` for `seed=3`, `hydra.job.env_set.X` for `++hydra...=`."""
    return override.lstrip("+~").partition("=")[0]


def _seed(overrides: list[str]) -> int | None:
    for override in overrides:
        if override_key(override) == "seed":
            value = override.partition("=")[2]
            try:
                return int(value)
            except ValueError:
                raise schema.ConfigError(f"seed={value} is invalid; allowed: an int") from None
    return None


def check(job_overrides: list[list[str]],
          compose: Callable[[list[str]], DictConfig]) -> list[schema.RunConfig]:
    """Every job's validated config; a ConfigError naming the job stops the sweep.

    `compose` builds a job's config from its overrides (Hydra's sweep composition). Composing
    takes a tenth of a second or more and no check depends on the seed, so each distinct job
    but for its seed is composed and checked once: 2 compositions for 20 seeds x 2 arms.
    """
    checked: dict[tuple[str, ...], schema.RunConfig] = {}
    run_configs = []
    for overrides in job_overrides:
        rest = tuple(o for o in overrides if override_key(o) != "seed")
        seed = _seed(overrides)
        if rest not in checked:
            config = schema.to_run_config(compose(list(rest)))
            try:
                schema.validate(config)
            except schema.ConfigError as error:
                raise schema.ConfigError(f"{error} (job: {' '.join(overrides)})") from error
            checked[rest] = config
        config = checked[rest]
        run_configs.append(config if seed is None else dataclasses.replace(config, seed=seed))
    # Workers started from here on inherit it.
    for variable in BLAS_THREADS:
        os.environ[variable] = "1"
    return run_configs


def warn_if_store_is_local(launcher_target: str) -> None:
    """A launcher that runs jobs on other machines cannot reach a store in a local file."""
    from nnlab import tracking

    uri = tracking.tracking_uri()
    if "slurm" in launcher_target.lower() and not tracking.is_server(uri):
        print(f"nnlab: warning: Slurm runs the jobs on other machines, which cannot reach the "
              f"store {uri} (nor its artifacts) on this one: start `python -m nnlab.server` "
              "and set MLFLOW_TRACKING_URI=http://HOST:PORT", file=sys.stderr, flush=True)


def register(job_overrides: list[list[str]],
             run_configs: list[schema.RunConfig]) -> list[list[str]]:
    """Create the store and the experiments, drop the jobs already finished (resume), and
    return the overrides to launch, each with its sweep id, experiment id and run name."""
    # Imported once every job is known to be valid: MLflow takes seconds to import.
    from nnlab import tracking

    experiment_ids = {
        name: tracking.ensure_experiment(name)
        for name in sorted({c.experiment_name for c in run_configs})
    }
    names = run_names(job_overrides, [c.seed for c in run_configs])
    jobs = list(zip(job_overrides, run_configs, names, strict=True))
    commit = git_commit()
    version = code_version(commit)
    finished = _finished_runs({c.experiment_name for c in run_configs if c.resume})
    todo, reused = [], []
    for overrides, config, name in jobs:
        run_id = config.resume and finished[config.experiment_name].get(
            schema.config_hash(config, version))
        if run_id:
            reused.append(run_id)
        else:
            todo.append((overrides, config, name))
    skipped = f"skipped {len(reused)} finished, " if reused else ""

    shared = {SWEEP_ID: new_sweep_id(), SWEEP_SIZE: str(len(todo)), GIT_COMMIT: commit or ""}
    # The finished runs a sweep skips are part of it too: the report of this sweep counts them.
    tracking.tag_runs(reused, {MEMBER_TAG_PREFIX + shared[SWEEP_ID]: "finished before"})
    experiments = ", ".join(f"'{name}'" for name in experiment_ids)
    print(f"nnlab: {skipped}running {len(todo)} -> experiment {experiments} at "
          f"{tracking.tracking_uri()} (sweep {shared[SWEEP_ID]})", flush=True)
    launched = []
    for overrides, config, name in todo:
        env = shared | {EXPERIMENT_ID: experiment_ids[config.experiment_name], RUN_NAME: name}
        launched.append(list(overrides) + [f"++hydra.job.env_set.{key}={_quoted(value)}"
                                           for key, value in env.items()])
    return launched


def _finished_runs(experiment_names: set[str]) -> dict[str, dict[str, str]]:
    """Per experiment, its FINISHED runs' ids by config hash (one query per experiment)."""
    from nnlab import tracking

    return {name: {run.tags.get(HASH_TAG): run.run_id for run in tracking.find_runs(name)
                   if run.status == tracking.FINISHED}
            for name in experiment_names}


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler, `kill`) stops the sweep the way Ctrl-C does."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def reset_progress(sweep_dir: Path) -> None:
    """Count from 1 again: a sweep into the folder of an earlier one (a fixed hydra.sweep.dir)
    would go on from that sweep's count."""
    (sweep_dir / PROGRESS_FILE).unlink(missing_ok=True)


def report_progress(sweep_dir: Path, line: str) -> None:
    """Print `[k/N] line`, k counting finished jobs across every worker process."""
    total = os.environ.get(SWEEP_SIZE, "?")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with open(sweep_dir / PROGRESS_FILE, "a+") as progress:
        fcntl.flock(progress, fcntl.LOCK_EX)
        progress.write(".")
        progress.flush()
        progress.seek(0)
        done = len(progress.read())
        fcntl.flock(progress, fcntl.LOCK_UN)
    print(f"[{done}/{total}] {line}", flush=True)


def summarize(returns: list) -> str:
    """One line on how the sweep ended; raises JobCrashed naming the jobs that crashed."""
    statuses: Counter = Counter()
    crashed = []
    for job in returns:
        value = job._return_value
        if isinstance(value, BaseException):
            statuses["FAILED"] += 1
            crashed.append(f"{' '.join(job.overrides)}: {type(value).__name__}: {value}")
        else:
            statuses[value["status"]] += 1
    line = f"{len(returns)} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    if crashed:
        raise JobCrashed(f"{line}; {len(crashed)} crashed: " + " | ".join(crashed))
    return line
