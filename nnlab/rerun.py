"""`python -m nnlab.rerun RUN_ID`: train a logged run again and check that it reproduces exactly.

A run is a pure function of its config and of the code: trained again from its logged
`config.yaml`, on the same commit, it gives every logged number bit for bit. The rerun logs
nothing to MLflow; its artifacts go to a temporary folder, deleted at the end.

Exit 0: every number identical; 1: one line per difference; 2: the run cannot be rerun (an
unknown id, no config.yaml, a config this code cannot build).
"""


import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml
from omegaconf.errors import OmegaConfBaseException

from nnlab import contract, job, schema
from nnlab.constraints import ConfigError
from nnlab.contract import COMMIT_TAG, FAILURE_TAG, TRAIN_LOSS_SERIES
from nnlab.tracking import store


class CannotRerun(Exception):
    """The run cannot be trained again: the message is one line naming it."""


def retrain(record: store.RunRecord, directory: Path) -> job.RunResult:
    """The run trained again from its logged config.yaml; its artifacts go to directory."""
    try:
        (config_file,) = store.download_artifacts(record.run_id, ["config.yaml"], directory)
    except LookupError:
        raise CannotRerun(f"run {record.run_id} ({record.run_name}, {record.status}) has no "
                          "config.yaml to rerun from") from None
    resolved_yaml = config_file.read_text()
    try:
        config = schema.to_run_config(yaml.safe_load(resolved_yaml))
        job.check(config)
    except (OmegaConfBaseException, ConfigError) as error:
        # OmegaConf's messages run over several lines (value, key, type): one is enough here.
        raise CannotRerun(f"the config.yaml of run {record.run_id} does not build on this "
                          f"code: {' '.join(str(error).split())}") from None
    return job.execute(config, resolved_yaml, directory / "artifacts", record.run_name)


def final_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics a rerun must reproduce: all but the wall-clock ones and the series."""
    return {key: float(value) for key, value in metrics.items()
            if key not in contract.WALL_CLOCK_METRICS and key != TRAIN_LOSS_SERIES}


def _same(logged: float | None, recomputed: float | None) -> bool:
    return (logged is not None and recomputed is not None
            and store.same_value(logged, recomputed))


def _shown(value: float | None) -> str:
    # repr: the shortest text that reads back as the same float, so that values differing in
    # the last bit never print alike.
    return "none" if value is None else repr(value)


def metric_differences(logged: dict[str, float], recomputed: dict[str, float]) -> list[str]:
    """`metric: logged X, recomputed Y` for every metric not reproduced exactly."""
    return [f"{key}: logged {_shown(logged.get(key))}, recomputed {_shown(recomputed.get(key))}"
            for key in sorted(logged.keys() | recomputed.keys())
            if not _same(logged.get(key), recomputed.get(key))]


def series_differences(logged: dict[int, float], recomputed: dict[int, float]) -> list[str]:
    """One line on the steps of the series not reproduced exactly, naming the first of them
    (a series that drifts once differs at every step after: one line says it)."""
    steps = sorted(logged.keys() | recomputed.keys())
    differing = [step for step in steps if not _same(logged.get(step), recomputed.get(step))]
    if not differing:
        return []
    first = differing[0]
    return [f"{TRAIN_LOSS_SERIES}: {len(differing)} of {len(steps)} points differ, the first at "
            f"step {first}: logged {_shown(logged.get(first))}, recomputed "
            f"{_shown(recomputed.get(first))}"]


def code_note(run_commit: str | None, this_commit: str | None) -> str | None:
    """A line saying the run was trained on another commit, when it was."""
    if run_commit == this_commit:
        return None
    trained = f"was trained on commit {run_commit}" if run_commit else "records no git commit"
    here = (f"this checkout is at {this_commit}" if this_commit
            else "this nnlab is not a git checkout")
    return f"note: the run {trained}, {here}: a difference may come from the code"


def main(argv: Sequence[str] | None = None) -> int:
    """Rerun one run and print the verdict; returns the exit code (0, 1 or 2)."""
    parser = argparse.ArgumentParser(
        prog="python -m nnlab.rerun",
        description="Train a logged run again from its config.yaml, logging nothing, and "
                    "compare every metric with the logged ones (MLFLOW_TRACKING_URI, else "
                    "./mlflow.db). Exit 0: identical; 1: a difference; 2: cannot rerun.")
    parser.add_argument("run_id", help="the MLflow run id")
    args = parser.parse_args(argv)
    try:
        record = store.get_run(args.run_id)
        with tempfile.TemporaryDirectory() as directory:
            outcome = retrain(record, Path(directory))
    except (LookupError, CannotRerun) as error:
        print(f"nnlab: rerun error: {error}", file=sys.stderr)
        return 2

    logged = final_metrics(record.metrics)
    # A step logged twice reads back oldest first: the dict keeps its latest value, as MLflow.
    logged_series = dict(
        store.metric_histories([record.run_id], TRAIN_LOSS_SERIES)[record.run_id])
    recomputed_series = dict(zip(outcome.steps.tolist(), outcome.train_loss.tolist(),
                                 strict=True))
    differences = (metric_differences(logged, final_metrics(outcome.metrics))
                   + series_differences(logged_series, recomputed_series))
    logged_failure = record.tags.get(FAILURE_TAG)
    if logged_failure != outcome.failure:
        differences.append(f"{FAILURE_TAG}: logged {logged_failure!r}, "
                           f"recomputed {outcome.failure!r}")

    note = code_note(record.tags.get(COMMIT_TAG), contract.git_commit())
    if note:
        print(note)
    title = f"rerun {record.run_id} ({record.run_name})"
    if differences:
        print(f"{title}: differs from the logged run")
        print("\n".join(f"  {line}" for line in differences))
        return 1
    failure = f", {outcome.failure} as logged" if outcome.failure else ""
    print(f"{title}: {len(logged)} metrics and {len(logged_series)} {TRAIN_LOSS_SERIES} points "
          f"identical{failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
