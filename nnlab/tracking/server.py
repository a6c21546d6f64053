"""`python -m nnlab.server`: a shared MLflow tracking server that stores the artifacts too.

Workers anywhere log to it with `MLFLOW_TRACKING_URI=http://HOST:PORT` and nothing else: their
runs get `mlflow-artifacts:/` URIs, so the files go over HTTP to the server, which keeps them in
`--artifacts-destination` (a folder on its machine, or an object store). No shared file system.

Its default store is its own, `./mlflow-server.db` with the artifacts in
`./mlflow-server-artifacts/`, not the local store `./mlflow.db` that sweeps write without a
server. The two do not mix: runs in the local store keep file: artifact URIs into
`./mlartifacts/`, which a worker on another machine cannot write to, and experiments created
through the server get `mlflow-artifacts:/` locations, which a sweep writing to SQLite directly
(no server in between) cannot log to. `--backend-store-uri` takes any SQLAlchemy URI
(`postgresql://...` with `nnlab[postgres]`).

Like `python -m nnlab.ui`, which shares this module's command line, the server is lean: one
uvicorn worker, no job runner. Both start it through the `mlflow server` CLI rather than uvicorn
directly: running `mlflow.server.fastapi_app:app` by hand would save the CLI's idle parent process
(~240 MB), but only by copying the CLI's private `_MLFLOW_SERVER_*` environment protocol and its
safety setup, which change between MLflow releases. This module imports no MLflow: the server
starts ~2 s sooner.

With `--app-name basic-auth`, MLflow creates its admin user on the first start against an auth
database without it, and needs that user's password then (and only then): from
MLFLOW_AUTH_ADMIN_PASSWORD, or `admin_password` in the file MLFLOW_AUTH_CONFIG_PATH names.
Without one it prints a long traceback and serves nothing, so the server checks first, reading
MLflow's auth config and, when it is SQLite, its auth database, as MLflow will.
"""

import argparse
import configparser
import importlib.util
import os
import secrets
import socket
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from nnlab.tracking import statistics
from nnlab.tracking.views import runs_page_lines

SERVER_DB = "mlflow-server.db"
SERVER_ARTIFACTS_DIR = "mlflow-server-artifacts"
# Binding every interface: the URL workers need names this machine instead.
ALL_INTERFACES = "0.0.0.0"

# Defaults only: a variable the user set explicitly wins.
SERVER_ENV = {
    # The job runner and its huey consumers are 8 of the stock server's 15 processes.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}

# MLflow's basic-auth settings (mlflow/server/auth/config.py).
AUTH_CONFIG_ENV = "MLFLOW_AUTH_CONFIG_PATH"
ADMIN_USERNAME_ENV = "MLFLOW_AUTH_ADMIN_USERNAME"
ADMIN_PASSWORD_ENV = "MLFLOW_AUTH_ADMIN_PASSWORD"


def server_command(backend_store_uri: str, host: str, port: int,
                   options: Sequence[str] = ()) -> list[str]:
    """The `mlflow server` command line for the store at `backend_store_uri`, with a single
    worker, then `options`.

    Every setting is an explicit flag so that MLFLOW_WORKERS, MLFLOW_HOST, ... in the
    environment cannot turn it back into the stock server.
    """
    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend_store_uri,
        "--host", host,
        "--port", str(port),
        "--workers", "1",
        *options,
    ]


def _check_can_listen(host: str, port: int) -> None:
    """Raise OSError if (host, port) cannot be bound, e.g. when the port is taken.

    The mlflow CLI exits 0 when uvicorn fails to bind, so the failure must be caught here.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn does, so that a port left in TIME_WAIT by the last server counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


def serve(prog: str, command: list[str], host: str, port: int, banner: str,
          env: Mapping[str, str] | None = None) -> int:
    """Print `banner` and replace this process with the server `command`, which listens on
    (host, port); returns 1, having said why, if that cannot be bound.

    `env` adds defaults to SERVER_ENV; the caller's environment wins over both.
    """
    try:
        _check_can_listen(host, port)
    except OSError as error:
        print(f"{prog}: cannot listen on {host}:{port}: {error.strerror or error}",
              file=sys.stderr)
        return 1
    # Flushed by hand: exec discards Python's buffers.
    print(banner, flush=True)
    # exec, not a child: no idle parent holding memory, and Ctrl-C reaches the server (which
    # forwards it to its uvicorn worker) with nothing in between to orphan it.
    os.execve(command[0], command, {**SERVER_ENV, **(env or {}), **os.environ})


def _auth_config() -> configparser.SectionProxy | None:
    """The [mlflow] section of the auth config MLflow will read: the file MLFLOW_AUTH_CONFIG_PATH
    names, else the basic_auth.ini MLflow ships (found without importing MLflow)."""
    path = os.environ.get(AUTH_CONFIG_ENV)
    if not path:
        spec = importlib.util.find_spec("mlflow")
        if spec is None or spec.origin is None:
            return None
        path = Path(spec.origin).parent / "server" / "auth" / "basic_auth.ini"
    config = configparser.ConfigParser()
    config.read(path)
    return config["mlflow"] if config.has_section("mlflow") else None


def _auth_setting(auth: configparser.SectionProxy, variable: str, key: str) -> str | None:
    """As MLflow reads an admin setting: the variable when set, even empty, else the file's;
    empty means none."""
    return (os.environ[variable] if variable in os.environ else auth.get(key)) or None


def _holds_user(database_uri: str, username: str) -> bool | None:
    """Whether the SQLite auth database at `database_uri` (relative paths from the current
    directory, as the server opens them) has the user; None for another kind of database, which
    only SQLAlchemy could open."""
    scheme, separator, path = database_uri.partition(":///")
    if not separator or scheme.split("+")[0] != "sqlite":
        return None
    database = Path(path.split("?")[0])
    if not database.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as db:
            found = db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
    except sqlite3.Error:  # not an auth database yet (a failed first start leaves no users)
        return False
    return found is not None


def basic_auth_refusal() -> str | None:
    """Why MLflow's basic auth would refuse to start, if that can be told without MLflow.

    A missing admin password is told for a SQLite auth database (MLflow's default,
    ./basic_auth.db); with another one MLflow itself says so, at length.
    """
    auth = _auth_config()
    if auth is not None:
        username = _auth_setting(auth, ADMIN_USERNAME_ENV, "admin_username")
        password = _auth_setting(auth, ADMIN_PASSWORD_ENV, "admin_password")
        database_uri = auth.get("database_uri", "")
        # Without a username MLflow names the setting itself, and in one line.
        if username and not password and _holds_user(database_uri, username) is False:
            return (f"--app-name basic-auth needs {ADMIN_PASSWORD_ENV} (the password of the "
                    f"admin user '{username}', which MLflow creates in {database_uri} on this "
                    f"first start) in the environment, or admin_password in the file "
                    f"{AUTH_CONFIG_ENV} names")
    if importlib.util.find_spec("flask_wtf") is None:
        return ("--app-name basic-auth needs MLflow's auth extra, Flask-WTF: "
                "pip install 'nnlab[auth]'")
    return None


def _without_password(uri: str) -> str:
    """`uri` fit for a terminal or a log: a password in it becomes ***."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tracking server in the foreground; replaces the current process with it."""
    parser = argparse.ArgumentParser(
        prog="python -m nnlab.server",
        description="Start an MLflow tracking server that keeps the runs and their artifacts "
                    "for workers on any machine (Ctrl-C to stop).",
    )
    parser.add_argument("--backend-store-uri", metavar="URI",
                        default=f"sqlite:///{Path.cwd() / SERVER_DB}",
                        help="where the runs go: any SQLAlchemy URI, e.g. "
                             f"postgresql://user@host/db (default: ./{SERVER_DB})")
    parser.add_argument("--artifacts-destination", metavar="PATH_OR_URI",
                        default=SERVER_ARTIFACTS_DIR,
                        help="where the server keeps artifacts: a folder, or a URI such as "
                             f"s3://bucket/path (default: ./{SERVER_ARTIFACTS_DIR})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default: 127.0.0.1, this machine only; "
                             f"{ALL_INTERFACES}: every interface)")
    parser.add_argument("--port", type=int, default=5000, help="default: 5000")
    parser.add_argument("--allowed-hosts", metavar="HOSTS",
                        help="Host headers the server answers, as mlflow server takes them, "
                             "e.g. 'gpu1.lab:5000' (default: MLflow's, localhost and private "
                             "IPs)")
    parser.add_argument("--app-name", choices=["basic-auth"],
                        help="basic-auth: MLflow's users and passwords (needs nnlab[auth]). The "
                             "first start creates the admin user in the auth database "
                             "(./basic_auth.db unless MLFLOW_AUTH_CONFIG_PATH names another "
                             f"config) and needs its password: {ADMIN_PASSWORD_ENV}, or "
                             "admin_password in that config; later starts need neither")
    args = parser.parse_args(argv)
    if args.app_name:
        refusal = basic_auth_refusal()
        if refusal:
            print(f"nnlab.server: {refusal}", file=sys.stderr)
            return 2

    destination = args.artifacts_destination
    if not urlsplit(destination).scheme:
        destination = str(Path(destination).resolve())
    options = ["--serve-artifacts", "--artifacts-destination", destination]
    if args.allowed_hosts:
        options += ["--allowed-hosts", args.allowed_hosts]
    env = {}
    if args.app_name:
        options += ["--app-name", args.app_name]
        # MLflow's basic auth refuses to start without a key for its CSRF tokens, which must be
        # the same in every worker: with one worker, a key drawn here at each start is.
        env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = secrets.token_urlsafe(32)

    name = socket.gethostname() if args.host == ALL_INTERFACES else args.host
    url = f"http://{name}:{args.port}"
    lines = [f"MLflow tracking server for {_without_password(args.backend_store_uri)}, "
             f"artifacts in {destination}, at {url} (Ctrl-C to stop)",
             f"Workers log to it with: MLFLOW_TRACKING_URI={url}"]
    if args.app_name:
        lines.append("and MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD (basic auth)")
    lines += runs_page_lines(url, args.backend_store_uri)
    # Its clients' sweeps cannot refresh a store behind a server; each start does.
    statistics.refresh(args.backend_store_uri)
    if args.host == ALL_INTERFACES and not args.allowed_hosts:
        lines.append(f"MLflow refuses requests addressed to {name} unless started with "
                     f"--allowed-hosts {name}:{args.port} (localhost and private IPs pass)")
    command = server_command(args.backend_store_uri, args.host, args.port, options)
    return serve("nnlab.server", command, args.host, args.port, "\n".join(lines), env)


if __name__ == "__main__":
    sys.exit(main())
