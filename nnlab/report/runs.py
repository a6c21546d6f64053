"""MLflow runs -> one typed row per run (pandas), and which runs a report counts.

MLflow keeps params as strings; they are cast back by the run schema (`nnlab.schema.RunConfig`):
ints (nullable) -> Int64, floats -> float64, str -> string, and lists such as `hidden` stay the
JSON text they were logged as ("[16]", "[16, 16]"): readable, and they group and sort as written.
"""

import dataclasses
import functools
import tempfile
import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml

from nnlab import contract, job, schema
from nnlab.constraints import ConfigError
from nnlab.data import Dataset
from nnlab.engine import Network
from nnlab.report.analysis import ReportError
from nnlab.tracking import store

ALL_SWEEPS = "all"
META = ("run_name", "sweep_id", "config_hash", "recipe", "status", "outcome", "failure",
        "start_time", "end_time", "run_id")
# The pandas dtypes params are cast to (see the module docstring).
ParamDtype = Literal["Int64", "float64", "boolean", "string"]


class Outcome(StrEnum):
    """How a run ended, as the statistics count it: a divergence is a result of the recipe (a
    failure in success rates); a crash, a kill or a lost run (its process vanished: a sweep
    killed, a machine down) is not, and is listed but never counted."""

    FINISHED = "finished"
    DIVERGED = "diverged"
    CRASHED = "crashed"
    LOST = "lost"
    RUNNING = "running"


@dataclass(frozen=True)
class Selection:
    experiment: str
    sweep_ids: tuple[str, ...]
    superseded: int  # runs of a config that ran again later in the selection: not counted
    skipped: tuple[str, ...]  # newer sweeps left out because some of their runs still run
    closed_lost: tuple[str, ...]  # RUNNING runs whose process was gone, closed as lost now


def _dtype(annotation: typing.Any) -> ParamDtype | None:
    """The pandas dtype for a schema field's type; None for what is never logged (dicts)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation) or annotation
    dtypes: dict[type, ParamDtype] = {int: "Int64", float: "float64", bool: "boolean",
                                      str: "string", list: "string"}
    return dtypes.get(origin)


def _schema_dtypes(config_class: type, prefix: str = "") -> dict[str, ParamDtype]:
    hints = typing.get_type_hints(config_class)
    dtypes: dict[str, ParamDtype] = {}
    for field in dataclasses.fields(config_class):
        annotation = hints[field.name]
        # is_dataclass is true of instances too; a type hint is a class (a nested config).
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            dtypes |= _schema_dtypes(annotation, f"{prefix}{field.name}.")
        elif (dtype := _dtype(annotation)) is not None:
            dtypes[prefix + field.name] = dtype
    return dtypes


# A run's metric `steps` is the updates it did; its param `steps` the length it was asked for
# (None: epochs set it). In the table the metric keeps the name, which analysis blocks and
# placeholders use, and the param's column is `steps (config)`.
PARAMS_NAMED_LIKE_METRICS = frozenset({"steps"})


def param_column(key: str) -> str:
    """The table's column of param `key` (its key, but for PARAMS_NAMED_LIKE_METRICS)."""
    return f"{key} (config)" if key in PARAMS_NAMED_LIKE_METRICS else key


@functools.cache
def _logged_params() -> dict[str, ParamDtype]:
    logged = schema.flatten(schema.RunConfig())
    return {key: dtype for key, dtype in _schema_dtypes(schema.RunConfig).items()
            if key in logged}


@functools.cache
def param_dtypes() -> dict[str, ParamDtype]:
    """Every param a run logs (schema.flatten), by its column in the table (param_column), in
    schema order, with its pandas dtype."""
    return {param_column(key): dtype for key, dtype in _logged_params().items()}


def _cast(column: pd.Series, dtype: ParamDtype) -> pd.Series:
    column = column.mask(column == "None")
    if dtype == "boolean":
        return column.map({"True": True, "False": False}).astype(dtype)
    if dtype in ("Int64", "float64"):
        try:
            return pd.to_numeric(column).astype(dtype)
        except (TypeError, ValueError) as error:
            raise ReportError(f"param {column.name}: {error} (schema type {dtype})") from None
    return column.astype(dtype)


def outcome(status: str, tags: dict[str, str]) -> Outcome:
    """How a run with this MLflow status and these tags ended, as the statistics count it."""
    if status == contract.FINISHED:
        return Outcome.FINISHED
    if status in contract.NOT_TERMINATED:
        return Outcome.RUNNING
    if contract.is_lost(tags):
        return Outcome.LOST
    if status == contract.FAILED and contract.diverged(tags):
        return Outcome.DIVERGED
    return Outcome.CRASHED


def _table(records: list[store.RunRecord]) -> pd.DataFrame:
    rows = []
    for record in records:
        tags = record.tags
        meta = {"run_name": record.run_name, "sweep_id": tags.get(contract.SWEEP_ID_TAG),
                "config_hash": tags.get(contract.CONFIG_HASH_TAG),
                "recipe": tags.get(contract.RECIPE_TAG), "status": record.status,
                "outcome": outcome(record.status, tags),
                "failure": tags.get(contract.FAILURE_TAG), "start_time": record.start_time,
                "end_time": record.end_time, "run_id": record.run_id}
        row = meta | record.params | {f"metric:{k}": v for k, v in record.metrics.items()}
        rows.append(row)
        # A run a later sweep skipped as finished (resume) belongs to that sweep too.
        rows += [row | {"sweep_id": key.removeprefix(contract.MEMBER_TAG_PREFIX)}
                 for key in tags if key.startswith(contract.MEMBER_TAG_PREFIX)]
    return pd.DataFrame(rows)


def _sweeps(table: pd.DataFrame) -> pd.DataFrame:
    """One row per sweep id, oldest first (ids begin with their start time): how many runs,
    whether some still run."""
    return (table.assign(running=table["outcome"].eq(Outcome.RUNNING))
            .groupby("sweep_id", dropna=False)
            .agg(runs=("run_id", "size"), running=("running", "any"))
            .sort_index())


def _choose(table: pd.DataFrame, experiment: str,
            sweep: str | list[str] | None) -> tuple[list[str], list[str]]:
    """The sweep ids to report, and the newer unfinished ones left out."""
    sweeps = _sweeps(table)
    if sweep is None:
        complete = sweeps[~sweeps["running"] & (sweeps["runs"] >= 2)]
        if complete.empty:
            raise ReportError(f"experiment '{experiment}' has no complete sweep of two runs or "
                              "more: pass --sweep ID or --sweep all")
        newer = sweeps[sweeps["running"] & (sweeps.index > complete.index[-1])]
        return [complete.index[-1]], list(newer.index)
    if sweep == ALL_SWEEPS:
        return list(sweeps.index), []
    wanted = sweep.split(",") if isinstance(sweep, str) else list(sweep)
    unknown = [s for s in wanted if s not in sweeps.index]
    if unknown:
        latest = ", ".join(f"{s} ({n} runs)" for s, n in sweeps["runs"].iloc[::-1][:5].items())
        raise ReportError(f"no sweep {', '.join(unknown)} in experiment '{experiment}' "
                          f"(latest: {latest})")
    return wanted, []


def _latest_per_config(runs: pd.DataFrame) -> pd.DataFrame:
    """Each config once: its latest finished run, or its latest run if none finished."""
    ranked = runs.assign(finished=runs["outcome"].eq(Outcome.FINISHED)).sort_values(
        ["finished", "start_time"], kind="stable")
    kept = ranked.groupby("config_hash", dropna=False, sort=False).tail(1)
    # By seed and name, not by start: parallel runs start in any order, and the statistics
    # (the bootstrap's resamples) must see each arm's values in the same order every time.
    order = [key for key in ("seed", "run_name") if key in kept.columns]
    return kept.drop(columns="finished").sort_values(
        order, key=lambda column: (pd.to_numeric(column, errors="coerce")
                                   if column.name == "seed" else column), kind="stable")


def _typed(runs: pd.DataFrame) -> pd.DataFrame:
    logged = _logged_params()
    columns = [str(c) for c in runs]  # _table's names: meta keys, params and metric:NAME
    metric_columns = sorted(c for c in columns if c.startswith("metric:"))
    metrics = runs[metric_columns].astype("float64").rename(columns=lambda c: c[len("metric:"):])
    params = pd.DataFrame({param_column(key): _cast(runs[key], dtype) if key in runs else
                           pd.Series(pd.NA, index=runs.index, dtype=dtype)
                           for key, dtype in logged.items()})
    # Params of older runs that the schema no longer has: kept, as the strings they were.
    extra = runs[[c for c in columns if c not in logged and c not in META
                  and not c.startswith("metric:")]].astype("string")
    meta = runs[list(META)].astype("string")
    for column in ("start_time", "end_time"):
        meta[column] = pd.to_datetime(runs[column].astype("float64"), unit="ms", utc=True)
    table = pd.concat([meta.drop(columns="run_id"), params, extra, metrics, meta["run_id"]],
                      axis=1)
    return table.reset_index(drop=True)


def select_runs(experiment: str,
                sweep: str | list[str] | None = None) -> tuple[pd.DataFrame, Selection]:
    """The typed runs a report counts, and how they were chosen (see `load_runs`). Runs left
    RUNNING by a process that is gone are closed as lost first (nnlab.liveness); a run with
    no params, killed between its creation and its first write, has no config to report."""
    try:
        closed = store.close_lost_runs([store.experiment_id(experiment)])
        records = [record for record in store.find_runs(experiment) if record.params]
    except (LookupError, ConfigError) as error:
        raise ReportError(str(error)) from None
    if not records:
        raise ReportError(f"experiment '{experiment}' has no runs")
    table = _table(records)
    sweep_ids, skipped = _choose(table, experiment, sweep)
    chosen = table[table["sweep_id"].isin(sweep_ids)]
    runs = _latest_per_config(chosen)
    return _typed(runs), Selection(experiment, tuple(sweep_ids), len(chosen) - len(runs),
                                   tuple(skipped), tuple(closed))


def load_runs(experiment: str, sweep: str | list[str] | None = None) -> pd.DataFrame:
    """One typed row per run of a sweep: meta columns, the params by the schema, final metrics.

    sweep: a sweep id (tag nnlab.sweep_id), a list of them, "all", or None for the latest
    complete sweep (two runs or more, none still running). A config that ran several times in
    the selection counts once: its latest finished run. The `outcome` column says how each run
    ended: finished, diverged (a result: a failure in success rates), crashed, lost or running
    (listed, never counted).
    """
    return select_runs(experiment, sweep)[0]


def load_curves(run_ids: list[str],
                metric: str = contract.TRAIN_LOSS_SERIES) -> pd.DataFrame:
    """A per-step metric of the runs, long format: run_id, step, value."""
    histories = store.metric_histories(run_ids, metric)
    frames = [pd.DataFrame(points, columns=["step", "value"]).assign(run_id=run_id)
              for run_id, points in histories.items() if points]
    if not frames:
        return pd.DataFrame({"run_id": pd.Series(dtype="string"),
                             "step": pd.Series(dtype="int64"), "value": pd.Series(dtype=float)})
    return pd.concat(frames, ignore_index=True)[["run_id", "step", "value"]]


def load_fit(run_id: str) -> tuple[Network, Dataset]:
    """A run's trained network and the data it trained on, rebuilt from its artifacts
    (config.yaml and weights.npz): the same seed draws the same data."""
    with tempfile.TemporaryDirectory() as directory:
        config_file, weights_file = store.download_artifacts(
            run_id, ["config.yaml", "weights.npz"], Path(directory))
        config = schema.to_run_config(yaml.safe_load(config_file.read_text()))
        net = job.load_weights(weights_file)
    return net, job.build(config).data
