"""Hydra's basic sweeper, with nnlab's checks before any job starts and a summary after.

Hydra instantiates sweepers only from the `hydra_plugins` package; the logic lives in
`nnlab.harness.sweep`, this class only calls it at the right moments.
"""

import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from nnlab.harness import compat

if TYPE_CHECKING:
    from nnlab.harness.sweep import Launch

BasicSweeper, BasicSweeperConf = compat.basic_sweeper()


@dataclass
class NnlabSweeperConf(BasicSweeperConf):
    _target_: str = "hydra_plugins.nnlab_sweeper.nnlab_sweeper.NnlabSweeper"


ConfigStore.instance().store(group="hydra/sweeper", name="nnlab", node=NnlabSweeperConf,
                             provider="nnlab")


class NnlabSweeper(BasicSweeper, Sweeper):
    def sweep(self, arguments: list[str]) -> list[list[JobReturn]]:
        from nnlab import process
        from nnlab.harness import sweep, tuned

        started = time.monotonic()
        # Hydra sets them (Sweeper.setup) before it calls sweep.
        assert self.hydra_context is not None and self.config is not None
        assert self.launcher is not None
        config, launcher = self.config, self.launcher
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        # The sweeper's own `params` (hydra.sweeper.params), then the command line's.
        params = [f"{key}={value}" for key, value in (self.params or {}).items()]
        overrides = parser.parse_overrides(params + list(arguments))
        jobs = [job for batch in self.split_arguments(overrides, None) for job in batch]
        loader = self.hydra_context.config_loader

        def compose(job: list[str]):
            return loader.load_sweep_config(config, job)

        tune = tuned.declared(config)
        if tune is not None:
            arms = tuned.arms_of(jobs, tune)
            tuning_jobs = tuned.tuning_jobs(arms, tune)
            # Check every job now, the tuning stage's and the sweep's own (the comparison stage
            # sets each arm to one of the values checked here, on the seeds checked here).
            checked = sweep.check_jobs(tuning_jobs + jobs, compose)
            tuning_configs = checked[:len(tuning_jobs)]
            default = tuned.default_value(checked[len(tuning_jobs):], tune)
            jobs, run_configs = tuning_jobs, tuning_configs
        else:
            # Check every job now: a typo in any of them stops the sweep before anything runs.
            run_configs = sweep.check_jobs(jobs, compose)
        # Before any worker starts: they inherit it.
        process.pin_blas_threads()
        # A launcher that can start its workers does so now: they start while MLflow loads here.
        start_workers = getattr(launcher, "start_workers", None)
        if start_workers is not None:
            start_workers()
        sweep.warn_if_store_is_local(str(config.hydra.launcher._target_))
        sweep_dir = Path(config.hydra.sweep.dir)
        launch = sweep.apply_plan(sweep.plan_sweep(jobs, run_configs), sweep_dir,
                                  [o.input_line for o in overrides if o.input_line], started)
        OmegaConf.save(config, sweep_dir / "multirun.yaml")
        with sweep.parent_runs_ended(launch):
            returns = self._run(launch.jobs, launch, sweep_dir)
            if tune is None:
                return returns
            chosen = tuned.choose_from_store(launch, arms, tune, default, tuning_configs)
            print(tuned.choice_line(tune, default, chosen), flush=True)
            tuned.tag_parent_runs(launch, default, chosen)
            comparison = tuned.comparison_jobs(arms, tune, default, chosen)
            stage = sweep.plan_sweep(comparison, sweep.check_jobs(comparison, compose),
                                     launch.plan.sweep_id)
            returns += self._run(sweep.add_stage(launch, stage), launch, sweep_dir)
        return returns

    def _run(self, jobs: list[list[str]], launch: "Launch",
             sweep_dir: Path) -> list[list[JobReturn]]:
        """Launch the jobs in batches, print the summary line; on Ctrl-C, say what became of
        the runs in flight."""
        from nnlab import contract
        from nnlab.harness import sweep

        launcher = self.launcher
        assert launcher is not None  # Hydra sets it (Sweeper.setup) before it calls sweep
        sweep.reset_progress(sweep_dir)
        returns, start = [], 0
        if not jobs:
            print("0 runs: every job had finished before", flush=True)
            return returns
        # Jobs whose output goes to a log file each (submitit's): their lines are read back
        # from the store, so that the console shows the same progress with every launcher.
        progress = (nullcontext() if sweep.jobs_print_progress(launcher)
                    else sweep.progress_from_store(jobs))
        try:
            with sweep.sigterm_as_interrupt(), progress:
                for batch in self.split_overrides_to_chunks(jobs, self.max_batch_size):
                    returns.append(launcher.launch(batch, initial_job_idx=start))
                    start += len(batch)
        except KeyboardInterrupt:
            if getattr(launcher, "stops_jobs_when_interrupted", False):
                # The launcher has stopped its workers: their runs would stay RUNNING.
                killed = sweep.close_jobs_in_flight(launch.jobs, contract.KILLED,
                                                    "interrupted")
                outcome = (f"{len(killed)} runs in flight marked KILLED"
                           f"{' (' + ', '.join(killed) + ')' if killed else ''}")
            else:
                # Stock submitit's jobs, say, run on: marking their runs KILLED would be wrong.
                outcome = "this launcher's jobs may still be running (on Slurm: scancel them)"
            raise sweep.Interrupted(f"interrupted: {outcome}; the same command runs the "
                                    "rest (finished runs are skipped)") from None
        print(sweep.summary_line([job for batch in returns for job in batch]), flush=True)
        return returns
