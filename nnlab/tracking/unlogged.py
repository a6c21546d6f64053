"""Runs that finished but could not be logged: kept on disk, logged later by `python -m
nnlab.sync` (and by the next sweep into their experiment, before resume decides what to skip).

A worker logging to a tracking server keeps its run here before it logs it, and deletes the copy
once the run is logged: a server that dies, or a worker stopped while it logs, leaves the
finished run on disk, never only in memory. A kept run is a folder
`nnlab-unlogged/<experiment>/<run name>-<config hash>/`:

- `run.json`: the experiment and run names, the MLflow run id (when the run was started),
  status, params, tags (at the start and at the end), final metrics, the metrics' timestamp,
  the dataset's name and digest;
- `series.npz`: each per-step metric as `<key>.steps` and `<key>.values`;
- `dataset.npz`: the arrays of the dataset input (x_train, x_test, y_train, y_test);
- `artifacts/`: the run's files (config.yaml, weights.npz, environment.json, the figures).

Syncing a run is a series of steps that each do nothing the second time: the run is found by
its id, else by its sweep id and config hash (tags set when it is created), else created, and
its id written to `run.json` at once; its metrics carry their kept timestamp, which the store
does not add twice; artifacts overwrite themselves; the dataset input is the store's once. A
sync stopped half-way and run again logs each thing once; the folder goes when all is logged.

Keeping and reading a run import no MLflow (a sweep's workers keep runs: see `handoff`); logging
one does.
"""

import json
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnlab import contract
from nnlab.tracking.records import DatasetArrays, ServerNotAnswering
from nnlab.tracking.uri import is_server, sqlite_database, tracking_uri

RUN_FILE = "run.json"
SERIES_FILE = "series.npz"
DATASET_FILE = "dataset.npz"
ARTIFACTS = "artifacts"
DATASET_ARRAYS = ("x_train", "x_test", "y_train", "y_test")


@dataclass
class UnloggedRun:
    """A finished run as it would have been logged: start_run's and end_run's arguments."""

    experiment_name: str
    run_name: str
    run_id: str | None  # None: the run was not started in the store
    status: str
    params: dict[str, str]
    tags: dict[str, str]  # set when the run is created
    end_tags: dict[str, str]  # set when it ends
    metrics: dict[str, float]
    series: dict[str, tuple[np.ndarray, np.ndarray]]  # key -> (steps, values)
    timestamp: int  # of the metrics, ms since the epoch
    dataset: DatasetArrays | None = None
    artifacts_dir: Path | None = None


def root() -> Path:
    """Where kept runs go: beside a SQLite store's file, else in the current directory."""
    database = sqlite_database(tracking_uri())
    return (Path.cwd() if database is None else database.parent) / contract.UNLOGGED_DIR


def _folder_name(run: UnloggedRun) -> str:
    return f"{run.run_name}-{run.tags.get(contract.CONFIG_HASH_TAG, 'nohash')}"


def keep(run: UnloggedRun, where: Path | None = None) -> Path:
    """Write the run into `where` (default: `root()`); returns its folder.

    Written under a temporary name and renamed: a folder with the final name is complete."""
    folder = _free_folder((where or root()) / run.experiment_name / _folder_name(run))
    partial = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    if run.artifacts_dir is not None:
        # Hard links where the file system allows them: the files are not written twice.
        shutil.copytree(run.artifacts_dir, partial / ARTIFACTS, copy_function=_link_or_copy)
    # Any: a keyword of np.savez's own (allow_pickle) would otherwise seem to be among them.
    series: dict[str, Any] = {f"{key}.{part}": np.asarray(array)
                              for key, (steps, values) in run.series.items()
                              for part, array in (("steps", steps), ("values", values))}
    np.savez(partial / SERIES_FILE, **series)
    if run.dataset is not None:
        dataset: dict[str, Any] = run.dataset.features | run.dataset.targets
        np.savez(partial / DATASET_FILE, **dataset)
    _write_record(partial, run)
    partial.rename(folder)
    return folder


def _free_folder(folder: Path) -> Path:
    """`folder`, or `folder-2`, `folder-3`, ... if it is taken: another run of the same config
    (a sweep with resume=false, say) may be kept there, waiting for its sync."""
    candidate, number = folder, 1
    while candidate.exists():
        number += 1
        candidate = folder.with_name(f"{folder.name}-{number}")
    return candidate


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _write_record(folder: Path, run: UnloggedRun) -> None:
    record = {
        "experiment_name": run.experiment_name, "run_name": run.run_name, "run_id": run.run_id,
        "status": run.status, "params": run.params, "tags": run.tags, "end_tags": run.end_tags,
        "metrics": run.metrics, "timestamp": run.timestamp,
        "dataset": None if run.dataset is None else {"name": run.dataset.name,
                                                     "digest": run.dataset.digest},
    }
    # Python's json writes each float so that it reads back as the same float (NaN included).
    temporary = folder / f".{RUN_FILE}.partial"
    temporary.write_text(json.dumps(record, indent=1))
    temporary.replace(folder / RUN_FILE)


def read(folder: Path) -> UnloggedRun:
    """A kept run as `keep` wrote it."""
    record = json.loads((folder / RUN_FILE).read_text())
    with np.load(folder / SERIES_FILE, allow_pickle=False) as arrays:
        keys = sorted({name.rsplit(".", 1)[0] for name in arrays.files})
        series = {key: (arrays[f"{key}.steps"], arrays[f"{key}.values"]) for key in keys}
    dataset = None
    if record["dataset"] is not None:
        with np.load(folder / DATASET_FILE, allow_pickle=False) as arrays:
            features = {name: arrays[name] for name in DATASET_ARRAYS if name.startswith("x")}
            targets = {name: arrays[name] for name in DATASET_ARRAYS if name.startswith("y")}
        dataset = DatasetArrays(record["dataset"]["name"], record["dataset"]["digest"],
                                features, targets)
    artifacts = folder / ARTIFACTS
    return UnloggedRun(record["experiment_name"], record["run_name"], record["run_id"],
                       record["status"], record["params"], record["tags"], record["end_tags"],
                       record["metrics"], series, record["timestamp"], dataset,
                       artifacts if artifacts.is_dir() else None)


def log_or_keep(run: UnloggedRun) -> None:
    """End a run started in the store (`run.run_id`). Through a tracking server the run is kept
    first and its copy deleted once it is logged: when the server does not answer, its
    ServerNotAnswering passes on and the run stays kept."""
    assert run.run_id is not None  # the worker started it
    folder = keep(run) if is_server(tracking_uri()) else None
    end(run.run_id, run)
    if folder is not None:
        discard(folder)


def end(run_id: str, run: UnloggedRun) -> None:
    """End the store's run `run_id` as `run` finished: status, metrics, series, tags, files."""
    from nnlab.tracking import store

    store.end_run(run_id, run.status, run.metrics, dict(run.series), run.end_tags,
                  run.artifacts_dir, run.dataset, run.timestamp)


def discard(folder: Path) -> None:
    """Delete a kept run once it is logged."""
    shutil.rmtree(folder, ignore_errors=True)


def kept_runs(experiment_names: Iterable[str] | None = None,
              where: Path | None = None) -> list[Path]:
    """The folders of the kept runs (of these experiments; default: every one), oldest first."""
    base = where or root()
    experiments = ([base / name for name in experiment_names] if experiment_names is not None
                   else [path for path in sorted(base.glob("*")) if path.is_dir()])
    folders = [folder for experiment in experiments if experiment.is_dir()
               for folder in experiment.iterdir()
               if not folder.name.startswith(".") and (folder / RUN_FILE).is_file()]
    return sorted(folders, key=lambda folder: (folder / RUN_FILE).stat().st_mtime)


def log(folder: Path) -> str:
    """Log the kept run in `folder` into the store (see the module's docstring for why doing it
    twice changes nothing), then delete the folder; returns the run's id."""
    from nnlab.tracking import store

    run = read(folder)
    experiment_id = store.ensure_experiment(run.experiment_name)
    run_id = run.run_id
    if run_id is None:
        # Started by an earlier sync, or created by a start_run whose answer was lost: every
        # job's run has both tags from its creation on.
        identity = {key: run.tags[key] for key in (contract.SWEEP_ID_TAG,
                                                   contract.CONFIG_HASH_TAG) if key in run.tags}
        run_id = store.find_run(experiment_id, identity) if identity else None
        if run_id is None:
            run_id = store.start_run(experiment_id, run.run_name, {}, run.tags)
        run.run_id = run_id
        _write_record(folder, run)
    store.log_params(run_id, run.params)
    end(run_id, run)
    # Closed as lost while the server was away: the run ended as computed after all.
    store.delete_tags(run_id, [contract.LOST_TAG, *(
        [] if contract.FAILURE_TAG in run.end_tags else [contract.FAILURE_TAG])])
    discard(folder)
    return run_id


def sync(experiment_names: Iterable[str] | None = None, where: Path | None = None) -> int:
    """Log every kept run (of these experiments); returns how many were logged. A run that
    cannot be logged for another reason than a server that does not answer stays kept, and is
    named on stderr."""
    folders = kept_runs(experiment_names, where)
    logged = 0
    for folder in folders:
        try:
            log(folder)
        except ServerNotAnswering:
            raise
        except Exception as error:  # one bad run must not keep the others from the store
            print(f"nnlab: warning: could not log the kept run {folder}: "
                  f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)
            continue
        logged += 1
    return logged


def where_kept() -> str:
    """The folder of kept runs as the user would type it: relative to here when it is below."""
    folder = root()
    try:
        return f"./{folder.relative_to(Path.cwd())}"
    except ValueError:
        return str(folder)


def main() -> int:
    """`python -m nnlab.sync`: log every kept run into the store; 0 when none is left."""
    try:
        logged = sync()
    except ServerNotAnswering as error:
        print(f"nnlab.sync: {error}: start it and run python -m nnlab.sync again "
              f"({len(kept_runs())} runs are kept in {where_kept()})", file=sys.stderr)
        return 1
    left = len(kept_runs())
    print(f"nnlab.sync: logged {logged} kept runs to {tracking_uri()}"
          + (f"; {left} could not be logged and are kept in {where_kept()}" if left else ""))
    return 1 if left else 0
