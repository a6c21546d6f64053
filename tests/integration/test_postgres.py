"""The tracking server on PostgreSQL: a throwaway cluster listening on a Unix socket only, the
same sweep through `python -m nnlab.server --backend-store-uri postgresql+psycopg://...`, the
same checks.

Needs PostgreSQL's server binaries (Debian: `apt-get install -y postgresql`) and the driver,
psycopg 3 (`pip install -e '.[postgres]'`).
"""

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tracking_server import (
    DIVERGING_EXPERIMENT,
    SWEEP_NAMES,
    Running,
    Sweeps,
    check_artifacts,
    check_diverged,
    check_sweep_runs,
    check_train_loss,
    running,
    search_runs,
    sweep_through,
)

DATABASE = "nnlab_runs"
# initdb refuses to run as root: as root, the cluster belongs to Debian's postgres user.
OWNER = "postgres"
SUPERUSER = "nnlab"


@dataclass
class Cluster:
    bin_dir: Path
    socket_dir: Path
    uri: str


@dataclass
class Served:
    cluster: Cluster
    server: Running
    home: Path
    sweeps: Sweeps


def _bin_dir() -> Path:
    """The newest PostgreSQL's server binaries (Debian keeps them off PATH)."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                    key=lambda pg_ctl: [int(n) for n in pg_ctl.parts[-3].split(".")])
    on_path = shutil.which("pg_ctl")
    if debian:
        return debian[-1].parent
    if on_path:
        return Path(on_path).resolve().parent
    pytest.fail("no PostgreSQL server binaries (pg_ctl): apt-get install -y postgresql")


def _as_owner(*command: str | Path) -> list[str]:
    prefix = ["runuser", "-u", OWNER, "--"] if os.geteuid() == 0 else []
    return [*prefix, *map(str, command)]


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if importlib.util.find_spec("psycopg") is None:
        pytest.fail("no PostgreSQL driver: pip install -e '.[postgres]'")
    bin_dir = _bin_dir()
    # Not pytest's tmp_path: its parents are private to the user running pytest, and the
    # cluster's owner must reach its own files.
    root = Path(tempfile.mkdtemp(prefix="nnlab-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user=pwd.getpwnam(OWNER).pw_uid)
    data = root / "data"
    # Trust is safe here: the only way in is a socket in a directory only its owner can enter.
    _run(_as_owner(bin_dir / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust",
                   "--no-sync", "-E", "UTF8", "--locale=C"))
    settings = f"-c listen_addresses='' -c unix_socket_directories='{root}'"
    _run(_as_owner(bin_dir / "pg_ctl", "-D", data, "-l", root / "server.log", "-o", settings,
                   "-w", "start"))
    try:
        _run([str(bin_dir / "createdb"), "-h", str(root), "-U", SUPERUSER, DATABASE])
        yield Cluster(bin_dir, root,
                      f"postgresql+psycopg://{SUPERUSER}@/{DATABASE}?host={root}")
    finally:
        _run(_as_owner(bin_dir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"))
        shutil.rmtree(root)


@pytest.fixture(scope="module")
def served(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("server").resolve()
    args = ["--backend-store-uri", cluster.uri]
    with running("nnlab.server", args, home) as server:
        yield Served(cluster, server, home,
                     sweep_through(server.base_url, tmp_path_factory.mktemp("worker")))


def test_sweep_through_a_server_on_postgres_records_everything(served: Served):
    assert served.sweeps.sweep.returncode == 0, served.sweeps.sweep.stderr
    assert served.sweeps.diverging.returncode == 0, served.sweeps.diverging.stderr
    runs = search_runs(served.server.base_url, "nnlab")
    check_sweep_runs(runs)
    check_train_loss(served.server.base_url, runs)
    check_artifacts(served.server.base_url, runs)
    check_diverged(search_runs(served.server.base_url, DIVERGING_EXPERIMENT))


def test_the_runs_are_in_postgres_and_not_in_a_sqlite_file(served: Served):
    cluster = served.cluster
    count = _run([str(cluster.bin_dir / "psql"), "-h", str(cluster.socket_dir), "-U", SUPERUSER,
                  "-d", DATABASE, "-tA", "-c", "SELECT count(*) FROM runs"])

    # The sweep's runs, its parent run, and the single diverging run.
    assert int(count) == len(SWEEP_NAMES) + 1 + 1
    assert not list(served.home.glob("*.db"))
