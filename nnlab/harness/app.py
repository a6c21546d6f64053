"""`python -m nnlab.run [overrides]`: one run; with -m, a sweep (the Hydra app).

The app wires config -> data + network -> train -> MLflow; the logic lives in `nnlab.job`
(a run without Hydra or MLflow), `nnlab.harness.sweep` (what the launching process does) and
`nnlab.tracking` (MLflow).
"""

import json
import logging
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from types import ModuleType

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nnlab import contract, environment, job, liveness, process, schema
from nnlab.constraints import ConfigError
from nnlab.harness import sweep
from nnlab.tracking import handoff, unlogged, waits
from nnlab.tracking.records import DatasetArrays, ServerNotAnswering

log = logging.getLogger(__name__)


def register_schema() -> None:
    """Make the schema the base of `conf/config.yaml` (its defaults list names it)."""
    ConfigStore.instance().store(name="nnlab_schema", node=schema.RunConfig)


register_schema()


def track(cfg: DictConfig) -> dict:
    """Validate, train and log one run; returns its status for the sweep summary."""
    start = time.perf_counter()
    hydra_cfg = HydraConfig.get()
    config = sweep.typed_config(cfg)
    if contract.SWEEP_ID_ENV not in os.environ:
        job.check(config)  # nnlab's sweeper checks its jobs before any of them starts
    heartbeat_s = liveness.heartbeat_s()
    # In a worker of nnlab's launcher: the launching process logs the run (tracking.handoff).
    handed_over = handoff.job_folder_of_this_job()
    name = os.environ.get(contract.RUN_NAME_ENV) or f"{config.activation}-s{config.seed}"
    experiment_id = os.environ.get(contract.EXPERIMENT_ID_ENV) or _store().ensure_experiment(
        config.experiment_name)
    code = contract.checkout()
    env = environment.current()
    tags = {
        contract.SWEEP_ID_TAG: os.environ.get(contract.SWEEP_ID_ENV) or contract.new_sweep_id(),
        contract.CONFIG_HASH_TAG: schema.config_hash(config, contract.code_version(code)),
        contract.RECIPE_TAG: hydra_cfg.runtime.choices.get("recipe", ""),
        contract.ARM_TAG: os.environ.get(contract.ARM_ENV)
        or sweep.single_run_arm(list(hydra_cfg.overrides.task)),
        **code.tags(),
        **environment.tags(env),
    }
    if os.environ.get(contract.PARENT_RUN_ENV):
        tags[contract.PARENT_RUN_TAG] = os.environ[contract.PARENT_RUN_ENV]
    params = schema.flatten(config)
    run_id = None
    if handed_over is not None:
        handoff.announce(handed_over, handoff.RunStart(experiment_id, name, params, tags,
                                                       int(time.time() * 1000)))
        beating = nullcontext()
    else:
        store = _store()
        tags |= liveness.runner_tags(liveness.this_process(), time.time())
        run_id = store.start_run(experiment_id, name, params, tags)
        # Its heartbeat, until it ends: a reader can tell it from a run whose process is gone.
        beating = liveness.heartbeat(lambda: store.beat([run_id]), heartbeat_s)

    def unlogged_run(status: str, end_tags: dict[str, str], metrics: dict[str, float],
                     series: dict, dataset: DatasetArrays | None,
                     artifacts: Path | None) -> unlogged.UnloggedRun:
        return unlogged.UnloggedRun(config.experiment_name, name, run_id, status, params, tags,
                                    end_tags, metrics, series, int(time.time() * 1000), dataset,
                                    artifacts)

    with beating:
        out_dir = Path(hydra_cfg.runtime.output_dir) / "artifacts"
        try:
            result = job.execute(config, OmegaConf.to_yaml(cfg, resolve=True), out_dir, name)
        except Exception as error:
            log.exception("run %s crashed", name)
            failure = {contract.FAILURE_TAG: f"{type(error).__name__}: {error}"}
            if handed_over is not None:
                handoff.hand_over(handed_over,
                                  unlogged_run(contract.FAILED, failure, {}, {}, None, None), "")
            else:
                assert run_id is not None  # started above
                _store().mark_run(run_id, contract.FAILED, failure)
            raise
        (out_dir / contract.ENVIRONMENT_ARTIFACT).write_text(json.dumps(env, indent=1))
        if code.dirty:
            (out_dir / contract.DIFF_ARTIFACT).write_text(code.diff)
        end_tags = {}
        if result.diverged_at is not None:
            end_tags = {contract.FAILURE_TAG: contract.failure_message(result.diverged_at),
                        contract.DIVERGED_AT_TAG: str(result.diverged_at)}
        status = contract.FINISHED if result.diverged_at is None else contract.FAILED
        data = result.data
        dataset = DatasetArrays(data.name, job.dataset_digest(data),
                                {"x_train": data.x_train, "x_test": data.x_test},
                                {"y_train": data.y_train, "y_test": data.y_test})
        finished = unlogged_run(status, end_tags, result.metrics,
                                {contract.TRAIN_LOSS_SERIES: (result.steps, result.train_loss)},
                                dataset, out_dir)

        def line() -> str:
            return sweep.progress_line(name, result.failure, result.metrics.get("test_loss"),
                                       time.perf_counter() - start)

        if handed_over is not None:
            # The launching process prints the line once it has logged the run.
            handoff.hand_over(handed_over, finished, line())
            return {"status": status, "run_name": name, "failure": result.failure}
        try:
            unlogged.log_or_keep(finished)
        except ServerNotAnswering:
            _print_progress(f"{line()}  (not logged: kept in {unlogged.where_kept()})")
            raise
    _print_progress(line() if hydra_cfg.mode == RunMode.MULTIRUN
                    else f"{line()}  (run {run_id} in experiment '{config.experiment_name}')")
    return {"status": status, "run_name": name, "failure": result.failure}


def _store() -> ModuleType:
    """nnlab.tracking.store, imported once the config is known to be valid: MLflow takes
    seconds to import, and a worker of nnlab's launcher never imports it."""
    from nnlab.tracking import store

    return store


def _print_progress(line: str) -> None:
    """A job's line: `[k/N] line` in a sweep, the line alone for a single run."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        sweep.report_progress(Path(hydra_cfg.sweep.dir), line)
    else:
        print(line, flush=True)


# nnlab/conf as a folder: a package-relative path would need conf/ to be an importable package.
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> dict:
    try:
        return track(cfg)
    except ConfigError as error:
        # A single run validates inside Hydra's job runner, which would add its own report.
        raise SystemExit(f"nnlab: config error: {error}") from None
    except ServerNotAnswering as error:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the launcher stops the sweep on it
        raise SystemExit(f"nnlab: {server_gone_line(error)}") from None


def _one_line(error: BaseException) -> str:
    """Hydra and OmegaConf errors span several lines; the user needs the key and the value."""
    text = str(error).split("Config search path")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    cause = error.__cause__
    if isinstance(cause, OmegaConfBaseException) and str(cause).strip():
        lines.append(str(cause).splitlines()[0].strip())
    return " ".join(dict.fromkeys(lines))


def server_gone_line(error: ServerNotAnswering) -> str:
    """What a user does when the tracking server does not answer, and where the runs that
    finished meanwhile wait."""
    from nnlab.tracking import unlogged

    kept = len(unlogged.kept_runs())
    line = f"{error}: start it again and run the same command"
    if kept:
        runs = "1 finished run is" if kept == 1 else f"{kept} finished runs are"
        line += (f"; {runs} kept in {unlogged.where_kept()} and will be logged then (or by "
                 "python -m nnlab.sync)")
    return line


def cli() -> None:
    # Let errors reach this function instead of Hydra's multi-line report.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    process.freeze_gc_at_exit()
    try:
        waits.store_timeout()
    except ValueError as error:
        sys.exit(f"nnlab: {error}")
    try:
        main()
    except ConfigError as error:
        sys.exit(f"nnlab: config error: {error}")
    except sweep.JobCrashed as error:
        sys.exit(f"nnlab: {error}")
    except ServerNotAnswering as error:
        sys.exit(f"nnlab: {server_gone_line(error)}")
    except sweep.Interrupted as error:
        print(f"nnlab: {error}", file=sys.stderr)
        sys.exit(130)  # the shell's code for a command stopped by Ctrl-C
    except (HydraException, OmegaConfBaseException) as error:
        sys.exit(f"nnlab: config error: {_one_line(error)}")


if __name__ == "__main__":
    cli()
