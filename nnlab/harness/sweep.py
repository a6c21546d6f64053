"""What a sweep does in the launching process, before and after its jobs run.

Before: check every job's config (a bad value stops the sweep before any job starts and before
anything is written to MLflow), plan the sweep (create the store and the experiments, which
workers must never race to create; close the runs there whose process is gone; find the jobs
that finished before), and hand every job its sweep id, experiment id and run name through
Hydra's `hydra.job.env_set`, which works the same with every launcher. After: one summary
line, and an error if a job crashed (a divergence is a result, not a crash).
"""

import csv
import dataclasses
import fcntl
import functools
import json
import os
import shlex
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError

from nnlab import contract, environment, job, liveness, schema
from nnlab.constraints import ConfigError, invalid
from nnlab.harness import compat
from nnlab.tracking import views
from nnlab.tracking.records import RunRecord, ServerNotAnswering

PROGRESS_FILE = ".nnlab_progress"
ENV_SET = "hydra.job.env_set."
# How often a launching process whose jobs print elsewhere reads their progress from the store.
PROGRESS_POLL_S = 1.0
PROGRESS_JOIN_S = 30.0


class JobCrashed(RuntimeError):
    """One or more jobs raised; the message names them."""


class WorkerDied(RuntimeError):
    """The process running a job was killed (out of memory, a signal): the job's outcome."""


class Interrupted(RuntimeError):
    """The sweep was stopped (Ctrl-C, SIGTERM); the message says what became of its runs."""


@functools.cache
def _parser() -> OverridesParser:
    return OverridesParser.create()


def parse(overrides: Sequence[str]) -> list[Override]:
    """Overrides parsed by Hydra's own grammar (quotes, escapes, `+`/`++`/`~` prefixes)."""
    return _parser().parse_overrides(list(overrides))


def override_key(override: Override) -> str:
    """The key an override sets: `seed` for `seed=3`, `hydra.job.env_set.X` for `++hydra...`."""
    return override.key_or_group


# The keys in which the jobs of one arm differ: the seed, and the run name nnlab's sweeper gives
# each job.
PER_JOB_KEYS = ("seed", ENV_SET + contract.RUN_NAME_ENV)


def arm_of(parsed: list[Override]) -> tuple[tuple[str, ...], list[Override]]:
    """A job's arm, and the overrides that set its per-job values.

    The jobs of one arm have the same overrides but for the values they give the PER_JOB_KEYS,
    and a job's config is its arm's first config with its own values set
    (`set_per_job_values`), where that is what Hydra's composition gives: the override sets a
    plain value (not a dict or a list, which Hydra merges into the node; not a deletion) and
    it is the job's only override of that node. Any other override stays in the arm's name.
    """
    keys = [override_key(o) for o in parsed]

    def sets_a_value(i: int, override: Override) -> bool:
        return (keys[i] in PER_JOB_KEYS and override.package is None
                and not override.is_delete()
                and not isinstance(override.value(), (dict, list))
                and not any(_same_node(keys[i], key) for j, key in enumerate(keys) if j != i))

    per_job = [sets_a_value(i, o) for i, o in enumerate(parsed)]
    # Hydra's parser keeps every override's text: input_line is None only for one it made.
    arm = tuple(o.get_key_element() if value else str(o.input_line)
                for o, value in zip(parsed, per_job, strict=True))
    return arm, [o for o, value in zip(parsed, per_job, strict=True) if value]


def _same_node(key: str, other: str) -> bool:
    """Whether two keys name one node, or one names a node inside the other's."""
    return key == other or key.startswith(other + ".") or other.startswith(key + ".")


def names_a_group(first: DictConfig, per_job: list[Override]) -> bool:
    """Whether a per-job key is a config group of the app (`seed=b` choosing seed/b.yaml): its
    jobs choose an option, which only composing them applies."""
    return any(override_key(o) in first.hydra.runtime.choices for o in per_job)


def set_per_job_values(config: DictConfig, per_job: list[Override]) -> None:
    """Set a job's per-job values (from `arm_of`) in a copy of its arm's first config, as
    Hydra's composition sets them. The arm's first job had the same overrides: each key was
    there to change, or free to add (`+key=`), and its node's type converts or rejects the
    value as composing would. Raises OmegaConf's error for a value the node rejects."""
    for override in per_job:
        OmegaConf.update(config, override_key(override), override.value(), merge=True,
                         force_add=override.is_add() or override.is_force_add())




# What an arm leaves out: the seed, and the settings that change no number of a run.
NOT_ARM_KEYS = ("seed", "experiment_name", "resume")


def _chosen_and_swept(job_overrides: list[list[str]]) -> tuple[list[dict[str, str]], list[str]]:
    """Each job's values by key, and the keys whose value varies across the sweep, seed aside."""
    chosen = [{override_key(o): o.get_value_element_as_str() for o in parse(overrides)}
              for overrides in job_overrides]
    values: dict[str, set[str]] = {}
    for job_values in chosen:
        for key, value in job_values.items():
            values.setdefault(key, set()).add(value)
    return chosen, [key for key, seen in values.items() if len(seen) > 1 and key != "seed"]


def run_names(job_overrides: list[list[str]], seeds: list[int]) -> list[str]:
    """Readable names from the values that vary across the sweep: `relu-s3`, `lr0.1-relu-s3`."""
    chosen, swept = _chosen_and_swept(job_overrides)
    return ["-".join([_name_part(key, job_values[key]) for key in swept if key in job_values]
                     + [f"s{seed}"])
            for job_values, seed in zip(chosen, seeds, strict=True)]


def arms(job_overrides: list[list[str]]) -> list[str]:
    """Each job's arm (tag `nnlab.arm`): the values the sweep varies, the seed aside, as
    overrides (`activation=relu`, `activation=relu lr=0.1`). A sweep that varies only the seed
    has one arm: the jobs' own overrides, the seed aside, or `(defaults)`. Neither counts
    `experiment_name` or `resume`, which change no number of a run."""
    chosen, swept = _chosen_and_swept(job_overrides)
    return [_arm({key: job_values[key] for key in swept or job_values
                  if key in job_values and key not in NOT_ARM_KEYS}) for job_values in chosen]


def single_run_arm(task_overrides: Sequence[str]) -> str:
    """The arm of a run launched alone: its overrides, the seed aside, or `(defaults)`."""
    return arms([list(task_overrides)])[0]


def _arm(values: dict[str, str]) -> str:
    return " ".join(f"{key}={value.replace(' ', '')}" for key, value in values.items()) \
        or contract.DEFAULTS_ARM


def _name_part(key: str, value: str) -> str:
    # Words speak for themselves (relu); numbers and lists need their key (lr0.1, hidden[4]).
    if value.replace("_", "").isalpha():
        return value
    return f"{key.rsplit('.', 1)[-1]}{value.replace(' ', '')}"


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _env_override(key: str, value: str) -> str:
    return f"++{ENV_SET}{key}={value}"


def job_env(overrides: Sequence[str]) -> dict[str, str]:
    """The NNLAB_* variables `apply_plan` gave a job, read back from its overrides."""
    env = {}
    for override in parse(overrides):
        key = override_key(override)
        if key.startswith(ENV_SET) and key.removeprefix(ENV_SET) in contract.JOB_ENV:
            env[key.removeprefix(ENV_SET)] = str(override.value())
    return env


def planned_by_nnlab(overrides: Sequence[str]) -> bool:
    """Whether nnlab's sweeper planned this job (`apply_plan` gave it its sweep id), rather than
    another sweeper, maybe for another app. A test of the strings alone: cheap for every job."""
    return any(override.startswith(_env_override(contract.SWEEP_ID_ENV, ""))
               for override in overrides)


def close_jobs_in_flight(launched: list[list[str]], status: str, reason: str) -> list[str]:
    """Mark the runs of these jobs' sweep that are still RUNNING, after their processes were
    stopped; returns their names."""
    from nnlab.tracking import store

    envs = [job_env(overrides) for overrides in launched]
    if not envs:
        return []
    return store.close_running_runs(envs[0][contract.SWEEP_ID_ENV],
                                    {env[contract.EXPERIMENT_ID_ENV] for env in envs},
                                    status, reason)


@dataclass
class _FirstOfArm:
    """The checked first job of an arm, and its config to set the arm's other seeds in."""

    config: schema.RunConfig
    task: DictConfig  # its composed config less `hydra`
    resolved: dict  # `task` resolved, as it was composed


def typed_config(cfg: DictConfig) -> schema.RunConfig:
    """A job's composed config as the schema's dataclasses; a key the schema does not have
    (`+foo=bar`, which Hydra composes without complaint) is a ConfigError."""
    try:
        return schema.to_run_config(cfg)
    except ConfigKeyError as error:
        key = str(error.full_key)
        raise invalid(key, OmegaConf.select(cfg, key), f"the config's keys; {key} is not a config "
                      "key (python -m nnlab.run --cfg job prints the config)") from None


def check_jobs(job_overrides: list[list[str]],
               compose: Callable[[list[str]], DictConfig]) -> list[schema.RunConfig]:
    """Every job's checked config; a ConfigError naming the job stops the sweep.

    `compose` builds a job's config from its overrides (Hydra's sweep composition, what
    Hydra's `Sweeper.validate_batch_is_legal` does for every job). Composing takes a tenth of a
    second or more, so the first job of each arm (`arm_of`: the jobs alike but for their seed)
    is composed and checked, and the others take its config with their seed set as Hydra's
    composition sets it: 2 compositions for 20 seeds x 2 arms. Composing a later job would
    differ from its arm's first only there, so each job is checked at least as Hydra checks
    it: its seed is checked, and if its resolved config differs from its arm's first in more
    than the seed (a value that interpolates the seed), the whole of it.
    """
    liveness.heartbeat_s()  # every job reads contract.HEARTBEAT_ENV: a bad value stops it here
    first_of_arm: dict[tuple[str, ...], _FirstOfArm] = {}
    run_configs = []
    for overrides in job_overrides:
        try:
            run_configs.append(_checked_job(overrides, compose, first_of_arm))
        except ConfigError as error:
            raise ConfigError(f"{error} (job: {' '.join(overrides)})") from error
    return run_configs


def _resolved(task: DictConfig) -> dict:
    values = OmegaConf.to_container(task, resolve=True)
    assert isinstance(values, dict)  # a config's root is a mapping
    return values


def _checked_job(overrides: list[str], compose: Callable[[list[str]], DictConfig],
                 first_of_arm: dict[tuple[str, ...], _FirstOfArm]) -> schema.RunConfig:
    parsed = parse(overrides)
    for override in parsed:
        if override_key(override) == "seed":
            job.check_seed(override.value(), override.get_value_element_as_str())
    arm, per_job = arm_of(parsed)
    first = first_of_arm.get(arm)
    if first is None:
        composed = compose(list(overrides))
        config = typed_config(composed)
        job.check(config)
        if not names_a_group(composed, per_job):
            task = schema.without_hydra(composed)
            first_of_arm[arm] = _FirstOfArm(config, task, _resolved(task))
        return config
    set_per_job_values(first.task, per_job)
    resolved = _resolved(first.task)
    if resolved | {"seed": first.config.seed} == first.resolved:
        return dataclasses.replace(first.config, seed=resolved["seed"])
    config = typed_config(first.task)
    job.check(config)
    return config


def warn_if_store_is_local(launcher_target: str) -> None:
    """A launcher that runs jobs on other machines cannot reach a store in a local file."""
    from nnlab.tracking.uri import is_server, tracking_uri

    uri = tracking_uri()
    if "slurm" in launcher_target.lower() and not is_server(uri):
        print(f"nnlab: warning: Slurm runs the jobs on other machines, which cannot reach the "
              f"store {uri} (nor its artifacts) on this one: start `python -m nnlab.server` "
              "and set MLFLOW_TRACKING_URI=http://HOST:PORT", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class PlannedJob:
    overrides: list[str]
    config: schema.RunConfig
    run_name: str
    arm: str


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep will run, decided before anything runs."""

    sweep_id: str
    checkout: contract.Checkout
    experiment_ids: dict[str, str]  # by experiment name, each created if it was missing
    todo: list[PlannedJob]
    reused: list[RunRecord]  # the runs that finished before: resume skips their jobs
    lost: list[str]  # the runs in its experiments left RUNNING by a process that is gone
    key_metrics: dict[str, list[str]]  # per experiment: its analysis block's metrics, if any


def plan_sweep(job_overrides: list[list[str]], run_configs: list[schema.RunConfig],
               sweep_id: str | None = None) -> SweepPlan:
    """Create the store and the experiments, close the runs there whose process is gone (a
    sweep killed, say), and find the jobs that have finished before. sweep_id: a later stage
    of a sweep (a tuned sweep's comparison) keeps the sweep's id."""
    # Imported once every job is known to be valid: MLflow takes seconds to import.
    from nnlab.tracking import store

    experiment_ids = {name: store.ensure_experiment(name)
                      for name in sorted({c.experiment_name for c in run_configs})}
    # Kept runs first: a run that finished while the server was down is logged as it ended,
    # not closed as lost.
    log_kept_runs(list(experiment_ids))
    lost = store.close_lost_runs(experiment_ids.values())
    names = run_names(job_overrides, [c.seed for c in run_configs])
    code = contract.checkout()
    version = contract.code_version(code)
    finished = _finished_runs({c.experiment_name for c in run_configs if c.resume})
    todo, reused = [], []
    for overrides, config, name, arm in zip(job_overrides, run_configs, names,
                                            arms(job_overrides), strict=True):
        run = config.resume and finished[config.experiment_name].get(
            schema.config_hash(config, version))
        if run:
            reused.append(run)
        else:
            todo.append(PlannedJob(list(overrides), config, name, arm))
    key_metrics = {name: _analysis_metrics([c for c in run_configs if c.experiment_name == name])
                   for name in experiment_ids}
    return SweepPlan(sweep_id or contract.new_sweep_id(), code, experiment_ids, todo, reused,
                     lost, key_metrics)


def log_kept_runs(experiment_names: list[str]) -> None:
    """Log the runs of these experiments that finished while the tracking server did not
    answer (kept on disk), before resume looks for what finished: none is trained twice."""
    from nnlab.tracking import unlogged

    if unlogged.kept_runs(experiment_names):
        logged = unlogged.sync(experiment_names)
        print(f"nnlab: logged {logged} runs kept in {unlogged.where_kept()} (they finished "
              "while the tracking server did not answer)", flush=True)


def _analysis_metrics(configs: list[schema.RunConfig]) -> list[str]:
    """The metrics the experiments' analysis blocks compare (a name, or {name: ...})."""
    names: list[str] = []
    for config in configs:
        for entry in (config.analysis or {}).get("metrics") or []:
            name = entry if isinstance(entry, str) else entry.get("name")
            if isinstance(name, str) and name not in names:
                names.append(name)
    return names


@dataclass(frozen=True)
class Launch:
    """The jobs to launch, each with its sweep id, experiment id, run name, arm and parent run,
    and the sweep's parent run in each experiment."""

    plan: SweepPlan
    jobs: list[list[str]]
    parent_runs: dict[str, str]  # by experiment id
    started: float  # time.monotonic() when the sweep began
    diff_file: str = ""  # the file of the checkout's diff the jobs log; "" for a clean one


def command_line() -> str:
    """The command that started this process, as a user would type it again."""
    program = Path(sys.argv[0])
    if program.name == "run.py" and program.parent.name == "nnlab":
        return shlex.join(["python", "-m", "nnlab.run", *sys.argv[1:]])
    return shlex.join(sys.argv)


def apply_plan(plan: SweepPlan, sweep_dir: Path, sweep_overrides: Sequence[str],
               started: float) -> Launch:
    """Start the sweep's parent run in each experiment (the command line, the sweep's overrides
    as params, the environment, the skipped runs), count the finished runs in this sweep, say
    what runs where, and return the jobs to launch."""
    from nnlab.tracking import store

    _join_sweep(plan.reused, plan.sweep_id)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    files = sweep_dir / ".nnlab_parent"
    files.mkdir(exist_ok=True)
    diff_file = ""
    if plan.checkout.dirty:
        (files / contract.DIFF_ARTIFACT).write_text(plan.checkout.diff)
        diff_file = str((files / contract.DIFF_ARTIFACT).resolve())
    (files / contract.ENVIRONMENT_ARTIFACT).write_text(json.dumps(environment.current(),
                                                                  indent=1))
    parents = {}
    # As typed: `seed` -> `range(20)`, `activation` -> `relu,sigmoid`.
    params = {override_key(o): (o.input_line or "").split("=", 1)[1]
              for o in parse(sweep_overrides) if "=" in (o.input_line or "")}
    for name, experiment_id in plan.experiment_ids.items():
        reused = [run for run in plan.reused
                  if run.params.get("experiment_name", name) == name]
        (files / contract.SKIPPED_ARTIFACT).unlink(missing_ok=True)
        if reused:
            with (files / contract.SKIPPED_ARTIFACT).open("w", newline="") as skipped:
                writer = csv.writer(skipped)
                writer.writerow(["run_id", "run_name", contract.SWEEP_ID_TAG])
                writer.writerows([run.run_id, run.run_name,
                                  run.tags.get(contract.SWEEP_ID_TAG, "")] for run in reused)
        tags = {contract.KIND_TAG: contract.SWEEP_KIND, contract.SWEEP_ID_TAG: plan.sweep_id,
                contract.COMMAND_TAG: command_line(), **plan.checkout.tags(),
                **environment.tags(environment.current()),
                **liveness.runner_tags(liveness.this_process(), time.time())}
        parents[experiment_id] = store.start_run(experiment_id, f"{name}-{plan.sweep_id}",
                                                 params, tags)
        store.log_artifacts(parents[experiment_id], files)
        store.set_experiment_tag(experiment_id, *views.runs_view(plan.key_metrics[name]))
    _say_what_runs(plan)
    return Launch(plan, _launched(plan, parents, diff_file), parents, started, diff_file)


def _say_what_runs(plan: SweepPlan) -> None:
    from nnlab.tracking.uri import tracking_uri

    skipped = f"skipped {len(plan.reused)} finished, " if plan.reused else ""
    if plan.lost:
        skipped = (f"closed {len(plan.lost)} lost run(s) (their process is gone: "
                   f"{', '.join(plan.lost)}), {skipped}")
    experiments = ", ".join(f"'{name}'" for name in plan.experiment_ids)
    print(f"nnlab: {skipped}running {len(plan.todo)} -> experiment {experiments} at "
          f"{tracking_uri()} (sweep {plan.sweep_id})", flush=True)


def _launched(plan: SweepPlan, parents: dict[str, str], diff_file: str) -> list[list[str]]:
    """The planned jobs' overrides, each with what its process needs to know of the sweep."""
    shared = {contract.SWEEP_ID_ENV: plan.sweep_id, contract.SWEEP_SIZE_ENV: str(len(plan.todo)),
              contract.GIT_COMMIT_ENV: plan.checkout.commit or "",
              contract.GIT_DIFF_ENV: diff_file}
    launched = []
    for planned in plan.todo:
        experiment_id = plan.experiment_ids[planned.config.experiment_name]
        env = shared | {contract.EXPERIMENT_ID_ENV: experiment_id,
                        contract.RUN_NAME_ENV: planned.run_name, contract.ARM_ENV: planned.arm,
                        contract.PARENT_RUN_ENV: parents[experiment_id]}
        launched.append(planned.overrides + [_env_override(key, _quoted(value))
                                             for key, value in env.items()])
    return launched


def add_stage(launch: Launch, stage: SweepPlan) -> list[list[str]]:
    """A later stage of the sweep (a tuned sweep's comparison, planned with the sweep's id):
    its finished runs join the sweep, its jobs the sweep's parent runs, and the parent runs'
    counts at the end include them (its jobs write to the experiments of the first stage, the
    same arms'). Returns the stage's jobs to launch."""
    _join_sweep(stage.reused, launch.plan.sweep_id)
    _say_what_runs(stage)
    jobs = _launched(stage, launch.parent_runs, launch.diff_file)
    # The sweep's record of what it planned: end_parent_runs counts the jobs of every stage.
    launch.plan.todo.extend(stage.todo)
    launch.plan.reused.extend(stage.reused)
    launch.jobs.extend(jobs)
    return jobs


def _join_sweep(reused: list[RunRecord], sweep_id: str) -> None:
    """The finished runs a sweep skips are part of it too: the report of this sweep counts
    them."""
    from nnlab.tracking import store

    store.tag_runs([run.run_id for run in reused],
                   {contract.MEMBER_TAG_PREFIX + sweep_id: "finished before"})


def _finished_runs(experiment_names: set[str]) -> dict[str, dict[str, RunRecord]]:
    """Per experiment, its FINISHED runs by config hash (one query per experiment)."""
    from nnlab.tracking import store

    return {name: {run.tags.get(contract.CONFIG_HASH_TAG, ""): run
                   for run in store.find_runs(name) if run.status == contract.FINISHED}
            for name in experiment_names}


def _outcome(run: RunRecord) -> str:
    """How a job's run ended, in the parent run's words (contract.SWEEP_OUTCOMES)."""
    if run.status == contract.FINISHED:
        return "finished"
    if run.status == contract.KILLED:
        return "killed"
    if run.status in contract.NOT_TERMINATED:
        return "running"
    if contract.is_lost(run.tags):
        return "lost"
    if contract.diverged(run.tags):
        return "diverged"
    if run.tags.get(contract.FAILURE_TAG) == contract.WORKER_DIED:
        return "worker_died"
    return "crashed"


def outcome_counts(runs: list[RunRecord], launched: int, skipped: int) -> dict[str, str]:
    """The parent run's counts, a tag `nnlab.runs.<outcome>` for each outcome (lost: launched
    jobs whose end nobody recorded: no run, such as those not started when the sweep was
    stopped, or a run whose process vanished)."""
    counts = Counter(_outcome(run) for run in runs)
    counts["lost"] += max(launched - len(runs), 0)
    counts["skipped"] = skipped
    return {contract.COUNT_TAG_PREFIX + outcome: str(counts[outcome])
            for outcome in contract.SWEEP_OUTCOMES}


def end_parent_runs(launch: Launch, status: str) -> None:
    """End the sweep's parent runs with `status`, each with its jobs' outcomes and the wall time
    since the sweep began."""
    from nnlab.tracking import store

    names = {experiment_id: name for name, experiment_id in launch.plan.experiment_ids.items()}
    wall = f"{time.monotonic() - launch.started:.1f}"
    for experiment_id, parent in launch.parent_runs.items():
        name = names[experiment_id]
        launched = sum(job.config.experiment_name == name for job in launch.plan.todo)
        skipped = sum(run.params.get("experiment_name", name) == name
                      for run in launch.plan.reused)
        runs = store.sweep_runs(launch.plan.sweep_id, experiment_id)
        tags = outcome_counts(runs, launched, skipped) | {contract.WALL_TIME_TAG: wall}
        store.end_run(parent, status, {}, {}, tags)
    store.refresh_statistics()  # the sweep grew the store


@contextmanager
def parent_runs_ended(launch: Launch) -> Iterator[None]:
    """End the parent runs as the sweep ends: FINISHED, KILLED when it is interrupted, FAILED
    when a job crashed or the sweep itself failed. Until then this process beats their
    heartbeat (nnlab.liveness)."""
    from nnlab.tracking import store

    try:
        with liveness.heartbeat(lambda: store.beat(launch.parent_runs.values()),
                                liveness.heartbeat_s()):
            yield
    except ServerNotAnswering:
        # Nothing reaches the store now; the parent runs stay RUNNING, for the closing of
        # lost runs (their process is gone) once the server is back.
        raise
    except (KeyboardInterrupt, Interrupted):
        end_parent_runs(launch, contract.KILLED)
        raise
    except BaseException:
        end_parent_runs(launch, contract.FAILED)
        raise
    end_parent_runs(launch, contract.FINISHED)


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


def progress_line(name: str, failure: str | None, test_loss: float | None,
                  seconds: float) -> str:
    """What a finished job reports: `relu-s3 test_loss=0.0312 0.6s`, or its failure."""
    return f"{name} {failure or f'test_loss={test_loss:.4g}'} {seconds:.1f}s"


def report_progress(sweep_dir: Path, line: str, total: str | None = None) -> None:
    """Print `[k/N] line`, k counting finished jobs across every process that prints them; N is
    `total`, by default the sweep's size as a job knows it."""
    total = total or os.environ.get(contract.SWEEP_SIZE_ENV, "?")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with open(sweep_dir / PROGRESS_FILE, "a+") as progress:
        fcntl.flock(progress, fcntl.LOCK_EX)
        progress.write(".")
        progress.flush()
        progress.seek(0)
        done = len(progress.read())
        fcntl.flock(progress, fcntl.LOCK_UN)
    print(f"[{done}/{total}] {line}", flush=True)


def summary_line(returns: list[JobReturn]) -> str:
    """One line on how the sweep ended; raises JobCrashed naming the jobs that crashed, or the
    ServerNotAnswering of a job (from a launcher that ran every job all the same)."""
    statuses: Counter = Counter()
    crashed = []
    for returned in returns:
        value = compat.job_outcome(returned)
        if isinstance(value, ServerNotAnswering):
            raise value
        if isinstance(value, BaseException):
            statuses[contract.FAILED] += 1
            crashed.append(f"{' '.join(returned.overrides or [])}: {type(value).__name__}: "
                           f"{value}")
        else:
            statuses[value["status"]] += 1
    line = f"{len(returns)} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    if crashed:
        raise JobCrashed(f"{line}; {len(crashed)} crashed: " + " | ".join(crashed))
    return line


def jobs_print_progress(launcher: object) -> bool:
    """Whether a launcher's jobs print their progress lines in this console. A launcher says so
    with `jobs_print_to_console`; submitit's jobs (Slurm, or its local executor) do not say it
    and print into a log file each."""
    declared = getattr(launcher, "jobs_print_to_console", None)
    if declared is not None:
        return bool(declared)
    return not type(launcher).__module__.startswith("hydra_plugins.hydra_submitit_launcher")


def stored_progress_line(run: RunRecord) -> str | None:
    """A run's progress line as its job printed it (the duration is the store's: from the
    run's creation to its end), or None for a crashed run, which the summary names."""
    failure = run.tags.get(contract.FAILURE_TAG)
    if run.status == contract.FINISHED:
        failure = None
    elif not contract.diverged(run.tags):
        return None
    seconds = ((run.end_time or run.start_time) - run.start_time) / 1000
    return progress_line(run.run_name, failure, run.metrics.get("test_loss"), seconds)


@contextmanager
def progress_from_store(launched: list[list[str]]) -> Iterator[None]:
    """Print the `[k/N]` line of each job of `launched` as its run ends in the store, from a
    thread of this process, while the block runs: for a launcher whose jobs print elsewhere.

    A last read when the block ends prints the lines not printed yet (none when it is
    interrupted: the sweep is being stopped)."""
    from nnlab.tracking import store

    envs = [job_env(overrides) for overrides in launched]
    sweep_id = envs[0][contract.SWEEP_ID_ENV]
    experiment_ids = sorted({env[contract.EXPERIMENT_ID_ENV] for env in envs})
    # The runs of the sweep's earlier stages (a tuned sweep's tuning) are not these jobs'.
    seen = {run.run_id for run in store.ended_sweep_runs(sweep_id, experiment_ids)}
    printed = []
    stop = threading.Event()

    def report_new() -> None:
        for run in store.ended_sweep_runs(sweep_id, experiment_ids):
            if run.run_id in seen:
                continue
            seen.add(run.run_id)
            line = stored_progress_line(run)
            if line is not None:
                printed.append(run.run_id)
                print(f"[{len(printed)}/{len(launched)}] {line}", flush=True)

    def watch() -> None:
        while not stop.wait(PROGRESS_POLL_S):
            try:
                report_new()
            except Exception:  # the store may be busy or unreachable: read it at the next poll
                pass

    watcher = threading.Thread(target=watch, name="nnlab-progress", daemon=True)
    watcher.start()
    try:
        yield
    except BaseException:
        stop.set()
        raise
    stop.set()
    watcher.join(timeout=PROGRESS_JOIN_S)
    try:
        if watcher.is_alive():  # a read that hangs (a server gone): the summary comes anyway
            raise TimeoutError(f"no answer within {PROGRESS_JOIN_S:.0f} s")
        report_new()
    except Exception as error:  # progress must not fail a sweep whose jobs ran
        print(f"nnlab: warning: the sweep's progress could not be read from the store: {error}",
              file=sys.stderr, flush=True)
