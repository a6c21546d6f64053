"""Where the store is: MLflow's URI conventions, without importing MLflow.

The default store is embedded: SQLite in `./mlflow.db`, artifacts beside it in `./mlartifacts/`.
`MLFLOW_TRACKING_URI` overrides it, a tracking server (`http://...`) included.
"""

import os
from pathlib import Path

DEFAULT_DB = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the SQLite store in the current directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / DEFAULT_DB}"


def is_server(uri: str) -> bool:
    """Whether `uri` is a tracking server's (the runs are logged over HTTP)."""
    return uri.startswith(("http://", "https://"))


def sqlite_database(uri: str) -> Path | None:
    """The database file of a local SQLite store's URI; None for any other store."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def local_artifact_root(uri: str) -> str | None:
    """For a local SQLite store, the artifact folder beside the database file."""
    database = sqlite_database(uri)
    return None if database is None else (database.parent / ARTIFACTS_DIR).resolve().as_uri()
