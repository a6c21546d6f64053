"""The store through MLflow's client: the one module of nnlab that imports mlflow's tracking
API. It knows nothing of Hydra; no MLflow entity leaves it (runs come back as RunRecords).
"""

import fcntl
import functools
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from nnlab.tracking import statistics, waits

# nnlab's workers are short-lived processes: no telemetry thread in each of them.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# On a tracking server MLflow prints two "View run" lines per finished run, after a get_run
# request of its own: a sweep already prints one line per run.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
# Every call gives up within NNLAB_STORE_TIMEOUT seconds, MLflow's HTTP retries included.
waits.set_mlflow_defaults()
# urllib3 logs each of those retries as a warning; nnlab says once that the server is gone.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

import sqlite3  # noqa: E402

import mlflow  # noqa: E402
import sqlalchemy  # noqa: E402
from mlflow.data.code_dataset_source import CodeDatasetSource  # noqa: E402
from mlflow.data.numpy_dataset import from_numpy  # noqa: E402
from mlflow.entities import (  # noqa: E402
    Dataset,
    DatasetInput,
    InputTag,
    Metric,
    Param,
    Run,
    RunTag,
)
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.protos.databricks_pb2 import (  # noqa: E402
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    ErrorCode,
)
from mlflow.store.artifact.artifact_repository_registry import (  # noqa: E402
    get_artifact_repository,
)

# The tables of a store, built without opening one (which would add its Default experiment with
# that store's artifact folder): MLflow has no public call for it. Its schema check on opening
# (the revision must be its own head) guards the copies made from it.
from mlflow.store.db.utils import _initialize_tables as initialize_tables  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

# MLflow's HTTP client (a dependency of MLflow): its errors say when a server did not answer.
from requests.exceptions import ChunkedEncodingError, RetryError, Timeout  # noqa: E402
from requests.exceptions import ConnectionError as HTTPConnectionError  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.exc import IntegrityError  # noqa: E402

from nnlab import liveness  # noqa: E402
from nnlab.contract import (  # noqa: E402
    FAILED,
    FAILURE_TAG,
    HEARTBEAT_TAG,
    KIND_TAG,
    LOST_FAILURE,
    LOST_TAG,
    RUNNING,
    SWEEP_ID_TAG,
    SWEEP_KIND,
    is_sweep_parent,
)
from nnlab.tracking.records import (  # noqa: E402
    DatasetArrays,
    RunRecord,
    ServerNotAnswering,
)
from nnlab.tracking.uri import (  # noqa: E402
    is_server,
    local_artifact_root,
    sqlite_database,
    tracking_uri,
)

# MLflow's own per-request limit for metrics in one log_batch call.
METRICS_PER_BATCH = 1000
# ... and for params.
PARAMS_PER_BATCH = 100
SEARCH_PAGE = 1000
# MLflow's tag on a dataset input saying what the run used it for.
DATASET_CONTEXT_TAG = "mlflow.data.context"


@event.listens_for(Engine, "connect")
def _write_ahead_log(connection: Any, _record: Any) -> None:
    """A SQLite store in write-ahead-log mode, synced at checkpoints: a commit is not a sync.

    A run is logged in about six transactions, and in SQLite's default mode each one waits for
    the disk: 84 ms a run here, 45 ms in this mode. A commit survives any crash of the process
    (a kill -9 included); only the machine losing power may undo the last ones. The mode stays
    with the file (MLflow's server and UI then use it too); readers no longer wait for a
    writer. It needs a local disk: a store shared over NFS goes through a tracking server.
    """
    if not isinstance(connection, sqlite3.Connection):
        return
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.OperationalError:
        pass  # the file is busy switching: this connection works in the mode the file has
    finally:
        cursor.close()


def _client() -> MlflowClient:
    """MLflow's client on the store, whose calls raise ServerNotAnswering when a tracking
    server gives no answer within nnlab's wait."""
    return _client_of(tracking_uri())


@functools.cache
def _client_of(uri: str) -> MlflowClient:
    # One per store: making one costs a few ms, and a sweep's launching process calls the store
    # about eight times per run.
    client = MlflowClient(tracking_uri=uri)
    return cast(MlflowClient, _AnswerOrGiveUp(client, uri)) if is_server(uri) else client


# What MLflow's HTTP client leaves in an error when a server gave no answer: no connection,
# no answer in time, an answer cut off (the server died while sending it), or only
# "unavailable" answers until its retries ran out.
_NO_ANSWER = (HTTPConnectionError, Timeout, RetryError, ChunkedEncodingError)


def _no_answer(error: BaseException) -> bool:
    """Whether `error` (or an error it was raised from) says the server did not answer. MLflow
    raises its own exception while handling the HTTP client's."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, _NO_ANSWER):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _AnswerOrGiveUp:
    """An MlflowClient whose every call that gets no answer raises ServerNotAnswering, with the
    time that call waited."""

    def __init__(self, client: MlflowClient, uri: str) -> None:
        self._mlflow, self._uri = client, uri

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._mlflow, name)
        if not callable(method):
            return method

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return method(*args, **kwargs)
            except Exception as error:
                if _no_answer(error):
                    raise ServerNotAnswering(self._uri, time.monotonic() - started) from None
                raise

        return call


def ensure_experiment(name: str) -> str:
    """The id of experiment `name`, creating the store and the experiment if missing.

    Call it once, in the process that launches the jobs, before any worker starts: workers
    that each create a fresh SQLite store corrupt it, and workers that race to create the same
    experiment put the loser's run into experiment 0. Two sweeps started at once into one store
    take turns here (a file lock beside a SQLite store; a server answers "already exists").
    """
    uri = tracking_uri()
    with _store_lock(uri):
        database = sqlite_database(uri)
        if database is not None:
            _create_sqlite_store(database)
        client = _client()
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return client.create_experiment(name, artifact_location=local_artifact_root(uri))
        except MlflowException as error:
            if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
            created = client.get_experiment_by_name(name)
            assert created is not None  # the other sweep that created it
            return created.experiment_id


def _create_sqlite_store(database: Path) -> None:
    """A new SQLite store (none at `database` yet) as a copy of an empty one of this MLflow
    version, kept in the user's cache: MLflow builds a store through its ~60 schema migrations,
    about a second each time, the same tables every time. The copy has no experiment, and MLflow
    adds its Default one with this store's artifact folder when it opens it, then checks the
    schema is its own. Without a cache (a read-only home) MLflow builds the store itself."""
    if database.exists():
        return
    template = _schema_template()
    if template is None:
        return
    partial = database.with_name(f".{database.name}.{os.getpid()}.partial")
    shutil.copyfile(template, partial)
    partial.replace(database)


def _schema_template() -> Path | None:
    """The cached empty store of this MLflow version, made the first time it is needed."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nnlab"
    template = cache / f"mlflow-{mlflow.__version__}-sqlite-schema.db"
    if template.is_file():
        return template
    partial = template.with_name(f".{template.name}.{os.getpid()}.partial")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    try:
        engine = sqlalchemy.create_engine(f"sqlite:///{partial}")
        try:
            initialize_tables(engine)
        finally:
            engine.dispose()
        partial.replace(template)
    except OSError:
        partial.unlink(missing_ok=True)
        return None
    return template


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Exclusive use of a local SQLite store while it is created or changed; else nothing."""
    database = sqlite_database(uri)
    if database is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def start_run(experiment_id: str, run_name: str, params: dict[str, str],
              tags: dict[str, str], start_time: int | None = None) -> str:
    """Create a RUNNING run with its params and tags (one batched call), started at
    `start_time` (ms since the epoch; default now); returns its id."""
    client = _client()
    run = client.create_run(experiment_id, start_time=start_time, run_name=run_name, tags=tags)
    client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()])
    if run.info.artifact_uri and not is_server(tracking_uri()):
        _artifact_uris[run.info.run_id] = run.info.artifact_uri
    return run.info.run_id


# The artifact folder of each run this process created in a local or SQL store (a server's
# client goes through MLflow's calls) and has not ended: MLflow's
# log_artifacts reads the whole run back first to find it (a fifth of the time a run takes the
# launching process to log).
_artifact_uris: dict[str, str] = {}


def _dataset_input(arrays: DatasetArrays) -> DatasetInput:
    """MLflow's dataset input for the arrays: name, digest, the splits' shapes (its profile)."""
    dataset = from_numpy(arrays.features, targets=arrays.targets, name=arrays.name,
                         digest=arrays.digest,
                         source=CodeDatasetSource({"nnlab.dataset": arrays.name}))
    return DatasetInput(Dataset(**dataset.to_dict()),
                        tags=[InputTag(DATASET_CONTEXT_TAG, "training")])


def _log_dataset(client: MlflowClient, run_id: str, dataset_input: DatasetInput) -> None:
    """The run's dataset input. The store keeps each dataset (name, digest) once per experiment
    and runs refer to it; it looks the dataset up, then inserts it if missing, so two runs on
    the same data ending at once (a seed's arms) both insert it, and the second fails on the
    store's unique key. The dataset is there by then: the second try refers to it."""
    try:
        client.log_inputs(run_id, datasets=[dataset_input])
    except MlflowException:
        client.log_inputs(run_id, datasets=[dataset_input])


def end_run(
    run_id: str,
    status: str,
    metrics: dict[str, float],
    series: dict[str, tuple[Iterable[int], Iterable[float]]],
    tags: dict[str, str],
    artifacts_dir: Path | None = None,
    dataset: DatasetArrays | None = None,
    timestamp: int | None = None,
) -> None:
    """Log final metrics, per-step series (batched), the dataset input and artifacts, then
    close the run, ended at `timestamp` (ms since the epoch; default: now): when it finished,
    not when it was logged (by the launching process, or a later sync). The metrics carry the
    same timestamp: logged again with it, a metric is not added twice."""
    client = _client()
    if dataset is not None:
        _log_dataset(client, run_id, _dataset_input(dataset))
    timestamp = int(time.time() * 1000) if timestamp is None else timestamp
    rows = [Metric(k, float(v), timestamp, 0) for k, v in metrics.items() if v is not None]
    for key, (steps, values) in series.items():
        rows += [Metric(key, float(v), timestamp, int(s)) for s, v in zip(steps, values,
                                                                          strict=True)]
    if not _insert_new_metrics(run_id, rows):
        for start in range(0, len(rows), METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=rows[start:start + METRICS_PER_BATCH])
    if tags:
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    artifact_uri = _artifact_uris.pop(run_id, None)
    if artifacts_dir is not None:
        if artifact_uri is None:
            client.log_artifacts(run_id, str(artifacts_dir))
        else:
            get_artifact_repository(artifact_uri).log_artifacts(str(artifacts_dir))
    client.set_terminated(run_id, status=status, end_time=timestamp)


def _insert_new_metrics(run_id: str, metrics: list[Metric]) -> bool:
    """Insert a run's metrics into an SQL store in one statement and one transaction, if none of
    them is there yet; False (nothing written) when the store is a server, or when one is (a
    run logged again after an interruption): MLflow's log_batch then adds what is missing.

    MLflow's own SQL store makes an ORM object of every point and compares each with the run's
    latest value: 22 ms for a run's 301-point series here, 4 ms so. The rows are the ones it
    would write: its NaN and infinity encoding, and each key's latest metric as its greatest
    (step, timestamp, value), in its own tables (tests check the two stores read the same)."""
    uri = tracking_uri()
    if is_server(uri) or not metrics:
        return False
    # Imported here: a server's client never loads MLflow's SQL store (~0.6 s). The store is the
    # one MlflowClient uses (MLflow keeps one per URI); its tables are MLflow's ORM models.
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking._tracking_service.utils import _get_store

    store = _get_store(uri)
    if not isinstance(store, SqlAlchemyStore):
        return False
    rows, latest = [], {}
    for metric in metrics:
        is_nan, value = store.sanitize_metric_value(metric.value)
        row = {"run_uuid": run_id, "key": metric.key, "value": value,
               "timestamp": metric.timestamp, "step": metric.step, "is_nan": is_nan}
        rows.append(row)
        order = (metric.step, metric.timestamp, value)
        if metric.key not in latest or order > latest[metric.key][0]:
            latest[metric.key] = (order, row)
    try:
        with store.ManagedSessionMaker(read_only=False) as session:
            session.execute(sqlalchemy.insert(SqlMetric), rows)
            session.execute(sqlalchemy.insert(SqlLatestMetric), [row for _, row in latest.values()])
    except MlflowException as error:
        if isinstance(error.__cause__, IntegrityError):
            return False  # rolled back: some were logged already
        raise
    return True


def mark_run(run_id: str, status: str, tags: dict[str, str],
             end_time: int | None = None) -> None:
    """Close a run that cannot log anything else (a crash, an interrupted, dead or lost
    worker); end_time in ms since the epoch, default now."""
    client = _client()
    client.log_batch(run_id, tags=[RunTag(key, value) for key, value in tags.items()])
    client.set_terminated(run_id, status=status, end_time=end_time)


def log_params(run_id: str, params: dict[str, str]) -> None:
    """Log params on a run (a param logged again with the same value changes nothing)."""
    client = _client()
    items = [Param(k, str(v)) for k, v in params.items()]
    for start in range(0, len(items), PARAMS_PER_BATCH):
        client.log_batch(run_id, params=items[start:start + PARAMS_PER_BATCH])


def find_run(experiment_id: str, tags: dict[str, str]) -> str | None:
    """The id of a run of the experiment that carries all these tags (at least one), if there
    is one."""
    assert tags  # no tags would match any run
    query = " AND ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items())
    runs = _client().search_runs([experiment_id], query, max_results=1)
    return runs[0].info.run_id if runs else None


def delete_tags(run_id: str, keys: Iterable[str]) -> None:
    """Remove these tags from a run, those it has (one read of the run)."""
    client = _client()
    tags = client.get_run(run_id).data.tags
    for key in keys:
        if key in tags:
            client.delete_tag(run_id, key)


def tag_runs(run_ids: Iterable[str], tags: dict[str, str]) -> None:
    """Add tags to existing runs, whatever their status."""
    client = _client()
    for run_id in run_ids:
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def log_artifacts(run_id: str, paths: Path | Iterable[Path],
                  artifact_path: str | None = None) -> None:
    """Copy a folder's files, or these files, into the run's artifacts (under
    `artifact_path`)."""
    client = _client()
    if isinstance(paths, Path):
        client.log_artifacts(run_id, str(paths), artifact_path)
        return
    for path in paths:
        client.log_artifact(run_id, str(path), artifact_path)


def set_experiment_tag(experiment_id: str, key: str, value: str) -> None:
    _client().set_experiment_tag(experiment_id, key, value)


def _search(experiment_ids: list[str], filter_string: str | None = None) -> list[Run]:
    """Every run of the experiments matching the filter, page by page."""
    client = _client()
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, filter_string or "", max_results=SEARCH_PAGE,
                                  page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            return runs


def _sweep_filter(sweep_id: str) -> str:
    return f"tags.`{SWEEP_ID_TAG}` = '{sweep_id}'"


def close_running_runs(sweep_id: str, experiment_ids: Iterable[str], status: str,
                       reason: str) -> list[str]:
    """Close the sweep's runs still RUNNING, whose process is gone (its parent run aside);
    returns their names."""
    runs = [run for run in _search(list(experiment_ids),
                                   f"{_sweep_filter(sweep_id)} AND attributes.status = 'RUNNING'")
            if not is_sweep_parent(run.data.tags)]
    for run in runs:
        mark_run(run.info.run_id, status, {FAILURE_TAG: reason})
    return [run.info.run_name or run.info.run_id for run in runs]


def beat(run_ids: Iterable[str]) -> None:
    """Refresh the runs' heartbeat (nnlab.liveness): they are still in flight."""
    tag_runs(run_ids, {HEARTBEAT_TAG: liveness.heartbeat_value(time.time())})


def close_lost_runs(experiment_ids: Iterable[str]) -> list[str]:
    """Close the experiments' RUNNING runs, sweeps' parent runs included, whose process is
    gone (nnlab.liveness): FAILED, tagged lost, ended at their last heartbeat. Returns their
    names.

    A run judged lost is read again before it is closed: its process may have ended it
    between the search and the check (and a process found gone can change nothing since).
    """
    now = time.time()
    client = _client()
    closed = []
    for run in _search(list(experiment_ids), f"attributes.status = '{RUNNING}'"):
        tags = dict(run.data.tags)
        if liveness.run_is_alive(tags, run.info.start_time, now):
            continue
        if client.get_run(run.info.run_id).info.status != RUNNING:
            continue
        ended = int(liveness.last_sign_of_life(tags, run.info.start_time) * 1000)
        mark_run(run.info.run_id, FAILED, {FAILURE_TAG: LOST_FAILURE, LOST_TAG: "true"},
                 end_time=max(ended, run.info.start_time))
        closed.append(run.info.run_name or run.info.run_id)
    return closed


# Reading runs back (the report, the rerun). Read-only: nothing below writes to the store.


def _existing_store() -> MlflowClient:
    """A client on the store; LookupError if its SQLite file is not there."""
    uri = tracking_uri()
    # Opening a SQLite store that is not there would create an empty one: reading writes nothing.
    database = sqlite_database(uri)
    if database is not None and not database.is_file():
        raise LookupError(f"no MLflow store at {uri} (run a sweep here first, or set "
                          "MLFLOW_TRACKING_URI)")
    return _client()


@contextmanager
def _missing_as_lookup_error(message: str) -> Iterator[None]:
    """MLflow's 'does not exist' as a LookupError with `message`; other errors pass through."""
    try:
        yield
    except MlflowException as error:
        if error.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise
        raise LookupError(message) from None


def _record(run: Run) -> RunRecord:
    return RunRecord(run.info.run_id, run.info.run_name or "", run.info.status, run.info.start_time,
                     run.info.end_time, dict(run.data.params), dict(run.data.tags),
                     dict(run.data.metrics))


def get_run(run_id: str) -> RunRecord:
    """One run by its id; LookupError naming the id if the store has no such run."""
    client = _existing_store()
    with _missing_as_lookup_error(f"no run '{run_id}' in {tracking_uri()}"):
        return _record(client.get_run(run_id))


def experiment_id(experiment_name: str) -> str:
    """The id of an existing experiment; LookupError naming the experiments there are if it is
    missing."""
    client = _existing_store()
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        known = ", ".join(sorted(e.name for e in client.search_experiments())) or "none"
        raise LookupError(f"no MLflow experiment '{experiment_name}' in {tracking_uri()} "
                          f"(experiments there: {known})")
    return experiment.experiment_id


def find_runs(experiment_name: str) -> list[RunRecord]:
    """Every run of an experiment but the sweeps' parent runs (`find_sweep_parents`: a parent
    holds no config and no result); LookupError naming the experiments there are if it is
    missing."""
    return [_record(run) for run in _search([experiment_id(experiment_name)])
            if not is_sweep_parent(run.data.tags)]


def find_sweep_parents(experiment_name: str) -> dict[str, RunRecord]:
    """The parent run of each sweep of the experiment, by sweep id (sweeps from before nnlab
    made parents have none)."""
    runs = _search([experiment_id(experiment_name)], f"tags.`{KIND_TAG}` = '{SWEEP_KIND}'")
    return {run.data.tags[SWEEP_ID_TAG]: _record(run) for run in runs
            if SWEEP_ID_TAG in run.data.tags}


def sweep_runs(sweep_id: str, experiment_id: str) -> list[RunRecord]:
    """The runs a sweep started in an experiment, its parent aside."""
    return [_record(run) for run in _search([experiment_id], _sweep_filter(sweep_id))
            if not is_sweep_parent(run.data.tags)]


def ended_sweep_runs(sweep_id: str, experiment_ids: Iterable[str]) -> list[RunRecord]:
    """The runs of sweep `sweep_id` (its `nnlab.sweep_id` tag) that are no longer RUNNING, in
    the order they ended: what a launching process polls while its jobs run elsewhere."""
    client = _client()
    query = f"tags.`{SWEEP_ID_TAG}` = '{sweep_id}' AND attributes.status != 'RUNNING'"
    records: list[RunRecord] = []
    token = None
    while True:
        page = client.search_runs(list(experiment_ids), filter_string=query,
                                  max_results=SEARCH_PAGE, page_token=token)
        records += [_record(run) for run in page]
        token = page.token
        if not token:
            return sorted(records, key=lambda run: (run.end_time or 0, run.run_name))


def refresh_statistics() -> None:
    """Let a local SQLite store's query planner know its tables (`statistics.refresh`)."""
    statistics.refresh(tracking_uri())


def metric_histories(run_ids: Iterable[str], key: str) -> dict[str, list[tuple[int, float]]]:
    """Every logged (step, value) of metric `key`, per run.

    One query per run: MLflow's client has no bulk call that works on every store. On a SQLite
    store with its planner's statistics (gathered first: `statistics`) that is a few ms per
    run of 300 steps, whatever the store's size.
    """
    refresh_statistics()
    client = _client()
    return {run_id: [(m.step, m.value) for m in client.get_metric_history(run_id, key)]
            for run_id in run_ids}


def download_artifacts(run_id: str, paths: Iterable[str], directory: Path) -> list[Path]:
    """Copies of a run's artifacts (paths relative to its artifact root) in directory, which
    must exist; the local store's files are copied too, so the caller may delete them.
    LookupError naming the run and the path if the run has no such artifact."""
    client = _client()
    copies = []
    for path in paths:
        with _missing_as_lookup_error(f"run {run_id} has no artifact {path}"):
            copies.append(Path(client.download_artifacts(run_id, path, str(directory))))
    return copies


def same_value(logged: float, value: float) -> bool:
    """Whether a metric read back from the store is exactly `value` as it was logged (a NaN
    logged reads back as NaN, which is the same value here)."""
    if math.isnan(value):
        return math.isnan(logged)
    if math.isinf(value):
        # SQL stores cannot hold infinity: MLflow keeps +-inf there as +-max float.
        return logged in (value, math.copysign(sys.float_info.max, value))
    return logged == value
