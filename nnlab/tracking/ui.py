"""`python -m nnlab.ui`: the MLflow UI on nnlab's default store, one lean local server.

Stock `mlflow ui` starts 4 uvicorn workers plus a job runner with 7 huey consumers (15 processes,
~2.7 GB RSS here); nnlab uses none of the server-side jobs (GenAI scorers, trace rollups), so one
worker is enough: 2 processes, ~0.5 GB. `nnlab.tracking.server` builds the command line for both.

Under its URL it prints a link to the runs of each experiment, the most recent first
(`nnlab.tracking.views`): the UI's own start page is its GenAI overview.
"""

import argparse
import sys
from collections.abc import Sequence

from nnlab.tracking import statistics
from nnlab.tracking.server import serve, server_command
from nnlab.tracking.uri import is_server, local_artifact_root, tracking_uri
from nnlab.tracking.views import runs_page_lines


def _local_store_options(uri: str) -> list[str]:
    """The `mlflow server` artifact flags for the store at `uri`."""
    artifact_root = local_artifact_root(uri)
    if artifact_root is None:
        return []
    # Runs logged by nnlab have file: artifact URIs, which the server reads directly whatever
    # these flags say. The flags matter for experiments created through the UI: MLflow would
    # give them `mlflow-artifacts:/`, which nnlab's workers (writing to SQLite, not over HTTP)
    # cannot log to. The destination keeps proxied artifacts beside the database too, not
    # in the server's cwd.
    return ["--default-artifact-root", artifact_root, "--artifacts-destination", artifact_root]


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
    if is_server(uri):
        print(f"nnlab.ui: MLFLOW_TRACKING_URI is already a tracking server: open {uri}",
              file=sys.stderr)
        return 2
    statistics.refresh(uri)  # the UI draws runs' series: read by run, not by metric name
    command = server_command(uri, args.host, args.port, _local_store_options(uri))
    url = f"http://{args.host}:{args.port}"
    banner = [f"MLflow UI for {uri} at {url} (Ctrl-C to stop)", *runs_page_lines(url, uri)]
    return serve("nnlab.ui", command, args.host, args.port, "\n".join(banner))


if __name__ == "__main__":
    sys.exit(main())
