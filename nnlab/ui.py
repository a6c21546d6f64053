"""`python -m nnlab.ui`: the MLflow UI on nnlab's default store, one lean local server.

Stock `mlflow ui` starts 4 uvicorn workers plus a job runner with 7 huey consumers (15 processes,
~2.7 GB RSS here); nnlab uses none of the server-side jobs (GenAI scorers, trace rollups), so one
worker is enough: 2 processes, ~0.5 GB.

The server is started through the `mlflow server` CLI rather than uvicorn directly: running
`mlflow.server.fastapi_app:app` by hand would save the CLI's idle parent process (~240 MB), but
only by copying the CLI's private `_MLFLOW_SERVER_*` environment protocol and its safety setup,
which change between MLflow releases.
"""

import argparse
import os
import socket
import sys
from collections.abc import Sequence

# Importing tracking loads mlflow (~2 s) but keeps one definition of the default store; the
# cost is paid once, since main() then replaces this process with the server.
from nnlab.tracking import local_artifact_root, tracking_uri

# Defaults only: a variable the user set explicitly wins.
SERVER_ENV = {
    # The job runner and its huey consumers are 8 of the stock server's processes.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


def server_command(uri: str, host: str, port: int) -> list[str]:
    """The `mlflow server` command line serving the store at `uri` with a single worker.

    Every setting is an explicit flag so that MLFLOW_WORKERS, MLFLOW_HOST, ... in the
    environment cannot turn it back into the stock server.
    """
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", uri,
        "--host", host,
        "--port", str(port),
        "--workers", "1",
    ]
    artifact_root = local_artifact_root(uri)
    if artifact_root is not None:
        # Runs logged by nnlab have file: artifact URIs, which the server reads directly whatever
        # these flags say. The flags matter for experiments created through the UI: MLflow would
        # give them `mlflow-artifacts:/`, which nnlab's workers (writing to SQLite, not over HTTP)
        # cannot log to. The destination keeps proxied artifacts beside the database too, not
        # in the server's cwd.
        command += [
            "--default-artifact-root", artifact_root,
            "--artifacts-destination", artifact_root,
        ]
    return command


def _check_can_listen(host: str, port: int) -> None:
    """Raise OSError if (host, port) cannot be bound, e.g. when the port is taken.

    The mlflow CLI exits 0 when uvicorn fails to bind, so the failure must be caught here.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn does, so that a port left in TIME_WAIT by the last server counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the MLflow UI in the foreground; replaces the current process with the server."""
    parser = argparse.ArgumentParser(
        prog="python -m nnlab.ui",
        description="Start the MLflow UI on nnlab's default store (Ctrl-C to stop).",
    )
    parser.add_argument("--port", type=int, default=5000, help="default: 5000")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default: 127.0.0.1, this machine only)")
    args = parser.parse_args(argv)

    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        print(f"nnlab.ui: MLFLOW_TRACKING_URI is already a tracking server: open {uri}",
              file=sys.stderr)
        return 2
    try:
        _check_can_listen(args.host, args.port)
    except OSError as error:
        print(f"nnlab.ui: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
              file=sys.stderr)
        return 1

    # Flushed by hand: exec discards Python's buffers.
    print(f"MLflow UI for {uri} at http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    command = server_command(uri, args.host, args.port)
    # exec, not a child: no idle parent holding mlflow in memory, and Ctrl-C reaches the server
    # (which forwards it to its uvicorn worker) with nothing in between to orphan it.
    os.execve(command[0], command, {**SERVER_ENV, **os.environ})


if __name__ == "__main__":
    sys.exit(main())
