"""`python -m nnlab.rerun RUN_ID`: train a logged run again and check that it reproduces exactly.

A run is a pure function of its config and of the code: trained again from its logged
`config.yaml`, on the same commit, it gives every logged number bit for bit. The rerun logs
nothing to MLflow; its artifacts go to a temporary folder, deleted at the end.

Before the numbers, it prints how this process's environment (Python, NumPy, SciPy, MLflow, the BLAS
and its kernel, the CPU, the OS) differs from the one the run logged (`nnlab.env.*`): the last
bits of a result may change with any of them. After, a note when the run was trained on another
commit, or with other uncommitted changes, than this checkout's.

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

from nnlab import contract, environment, job, schema
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


def changes_note(run_tags: dict[str, str], here: contract.Checkout) -> str | None:
    """On the run's commit, a line saying the run and this checkout differ in their uncommitted
    changes, when they do (on another commit, `code_note` says the code differs; runs logged
    before nnlab recorded the changes say nothing of theirs: no line)."""
    if contract.DIRTY_TAG not in run_tags or run_tags.get(COMMIT_TAG) != here.commit:
        return None
    logged = run_tags.get(contract.DIFF_DIGEST_TAG)
    if logged == here.diff_digest:
        return None
    trained = (f"was trained with uncommitted changes (diff {logged}, its artifact "
               f"{contract.DIFF_ARTIFACT})" if logged else "was trained on a clean checkout")
    now = (f"this checkout has uncommitted changes (diff {here.diff_digest})" if here.dirty
           else "this checkout has none")
    return f"note: the run {trained}, {now}: a difference may come from the code"


def environment_lines(run_tags: dict[str, str]) -> list[str]:
    """`environment: numpy: logged 2.4.5, here 2.4.6`, one per difference between the run's
    environment and this process's; one line if the run logged none."""
    logged = environment.from_tags(run_tags)
    if not logged:
        return ["environment: the run logged none (nnlab.env.* tags): not compared"]
    return [f"environment: {line}"
            for line in environment.differences(logged, environment.current())]


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

    # Before the numbers: a difference in them may come from any of these.
    for line in environment_lines(record.tags):
        print(line)
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

    here = contract.checkout()
    for note in (code_note(record.tags.get(COMMIT_TAG), here.commit),
                 changes_note(record.tags, here)):
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
