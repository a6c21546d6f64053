"""`python -m nnlab.run [overrides]`: one run; with -m, a sweep (the Hydra app).

The app wires config -> data + network -> train -> MLflow; the logic lives in `nnlab.job`
(a run without Hydra or MLflow), `nnlab.sweep` (what the launching process does) and
`nnlab.tracking` (MLflow).
"""

import atexit
import gc
import logging
import os
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nnlab import job, schema, sweep

log = logging.getLogger(__name__)
schema.register()


def track(cfg: DictConfig) -> dict:
    """Validate, train and log one run; returns its status for the sweep summary."""
    start = time.perf_counter()
    hydra_cfg = HydraConfig.get()
    config = schema.to_run_config(cfg)
    schema.validate(config)  # a single run is checked here; a sweep's jobs before they start
    # Imported once the config is known to be valid: MLflow takes seconds to import.
    from nnlab import tracking

    name = os.environ.get(sweep.RUN_NAME) or f"{config.activation}-s{config.seed}"
    experiment_id = os.environ.get(sweep.EXPERIMENT_ID) or tracking.ensure_experiment(
        config.experiment_name)
    commit = sweep.git_commit()
    tags = {
        "nnlab.sweep_id": os.environ.get(sweep.SWEEP_ID) or sweep.new_sweep_id(),
        sweep.HASH_TAG: schema.config_hash(config, sweep.code_version(commit)),
        "nnlab.recipe": hydra_cfg.runtime.choices.get("recipe", ""),
    }
    if commit:
        tags["mlflow.source.git.commit"] = commit
    run_id = tracking.start_run(experiment_id, name, schema.flatten(config), tags)
    out_dir = Path(hydra_cfg.runtime.output_dir) / "artifacts"
    try:
        outcome = job.execute(config, OmegaConf.to_yaml(cfg, resolve=True), out_dir, name)
    except Exception as error:
        log.exception("run %s crashed", name)
        tracking.mark_run(run_id, tracking.FAILED,
                          {"nnlab.failure": f"{type(error).__name__}: {error}"})
        raise
    status = tracking.FAILED if outcome.failure else tracking.FINISHED
    tracking.end_run(run_id, status, outcome.metrics,
                     {"train_loss": (outcome.steps, outcome.train_loss)},
                     {"nnlab.failure": outcome.failure} if outcome.failure else {}, out_dir)
    summary = outcome.failure or f"test_loss={outcome.metrics['test_loss']:.4g}"
    line = f"{name} {summary} {time.perf_counter() - start:.1f}s"
    if hydra_cfg.mode == hydra.types.RunMode.MULTIRUN:
        sweep.report_progress(Path(hydra_cfg.sweep.dir), line)
    else:
        print(f"{line}  (run {run_id} in experiment '{config.experiment_name}')")
    return {"status": status, "run_name": name, "failure": outcome.failure}


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    try:
        return track(cfg)
    except schema.ConfigError as error:
        # A single run validates inside Hydra's job runner, which would add its own report.
        raise SystemExit(f"nnlab: config error: {error}") from None


def _one_line(error: BaseException) -> str:
    """Hydra and OmegaConf errors span several lines; the user needs the key and the value."""
    text = str(error).split("Config search path")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    cause = error.__cause__
    if isinstance(cause, OmegaConfBaseException) and str(cause).strip():
        lines.append(str(cause).splitlines()[0].strip())
    return " ".join(dict.fromkeys(lines))


def cli() -> None:
    # Let errors reach this function instead of Hydra's multi-line report.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    # The garbage collection of the interpreter's teardown takes ~0.7 s once MLflow is loaded;
    # by then every file is written and closed, and the OS frees the memory anyway.
    atexit.register(gc.freeze)
    try:
        main()
    except schema.ConfigError as error:
        sys.exit(f"nnlab: config error: {error}")
    except sweep.JobCrashed as error:
        sys.exit(f"nnlab: {error}")
    except sweep.Interrupted as error:
        print(f"nnlab: {error}", file=sys.stderr)
        sys.exit(130)  # the shell's code for a command stopped by Ctrl-C
    except (hydra.errors.HydraException, OmegaConfBaseException) as error:
        sys.exit(f"nnlab: config error: {_one_line(error)}")


if __name__ == "__main__":
    cli()
