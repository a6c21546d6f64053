"""A throwaway single-node Slurm cluster: this machine as its one node, with its real CPUs and
memory, every file of it in one temporary folder, stopped and removed at the end.

munged with its own key and socket, slurmctld and slurmd in the foreground (`-D`), all three
children of the test, which stops them by pid; the clients (sbatch, squeue, scancel, sacct)
find the cluster through `SLURM_CONF`. Ports are free ones, so that the cluster neither needs
nor disturbs a Slurm of the machine, nor another test's. No accounting (no slurmdbd, no
database): sacct fails, as it does on a cluster whose accounting is down. KillWait is Slurm's
default, 30 s: a job that ignores SIGTERM stays in squeue that long after `scancel`.

Needs root (slurmd runs each job as its user) and Debian's slurm-wlm and munge:
`apt-get install -y slurm-wlm munge` (`make test-integration` installs them if missing).
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from tracking_server import free_port

COMMANDS = ("munged", "slurmctld", "slurmd", "sinfo", "squeue", "scancel", "sbatch", "srun")
STARTUP_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
# A cancelled job's processes get KillWait (30 s) to end after SIGTERM, then SIGKILL.
DRAIN_TIMEOUT_S = 45


@dataclass
class Cluster:
    root: Path
    conf: Path
    node: str

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to use the cluster (sbatch, squeue, a sweep)."""
        return {"SLURM_CONF": str(self.conf)}

    def client(self, *command: str) -> subprocess.CompletedProcess:
        return subprocess.run([_command(command[0]), *command[1:]], capture_output=True,
                              text=True, timeout=60, env={**os.environ, **self.env})

    def queue(self) -> list[str]:
        """`JOBID STATE` of every job squeue lists (pending, running, completing)."""
        listed = self.client("squeue", "--noheader", "--format=%i %T")
        assert listed.returncode == 0, listed.stderr
        return [line.strip() for line in listed.stdout.splitlines() if line.strip()]


def _command(name: str) -> str:
    """The path of a Slurm or munge command (the daemons are in sbin, off a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if found is None:
        pytest.fail(f"no {name}: apt-get install -y slurm-wlm munge")
    return found


def _node_config() -> str:
    """This machine as slurmd sees it: `NodeName=vm CPUs=2 ... RealMemory=24105`."""
    detected = subprocess.run([_command("slurmd"), "-C"], capture_output=True, text=True,
                              timeout=60)
    assert detected.returncode == 0, detected.stderr
    return detected.stdout.splitlines()[0].strip()


def _slurm_conf(root: Path, node_config: str, munge_socket: Path) -> str:
    node = node_config.split()[0].removeprefix("NodeName=")
    return "\n".join([
        "ClusterName=nnlabtest",
        f"SlurmctldHost={node}(127.0.0.1)",
        f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={munge_socket}",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'slurmd.log'}",
        # No cgroups: the processes of a job are found by their parents, and nothing is bound.
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "MailProg=/bin/true",
        "ReturnToService=2",
        f"{node_config} NodeAddr=127.0.0.1 State=UNKNOWN",
        f"PartitionName=nnlab Nodes={node} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def _start(command: list[str], root: Path, name: str, env: dict[str, str]) -> subprocess.Popen:
    with (root / f"{name}.out").open("w") as out:
        # Own session: a Ctrl-C on the test run reaches the daemons only through the teardown.
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _program(daemon: subprocess.Popen) -> str:
    """The program a daemon runs (Popen keeps the argument list it was given)."""
    args = daemon.args
    return str(args[0]) if isinstance(args, list | tuple) else str(args)


def _logs(root: Path) -> str:
    return "\n".join(f"--- {log.name}:\n{log.read_text(errors='replace')[-3000:]}"
                     for log in sorted(root.glob("*.out")) + sorted(root.glob("*.log")))


def _wait_until(ready, what: str, daemons: list[subprocess.Popen], root: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not ready():
        for daemon in daemons:
            if daemon.poll() is not None:
                pytest.fail(f"{_program(daemon)} exited with {daemon.returncode}:\n{_logs(root)}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {STARTUP_TIMEOUT_S} s:\n{_logs(root)}")
        time.sleep(0.2)


def processes_of(root: Path) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes that belong to the cluster in `root`: its
    daemons and everything they started (slurmstepd, the jobs), found by the SLURM_CONF in
    their environment or `root` on their command line (Linux /proc)."""
    marker = f"SLURM_CONF={root / 'slurm.conf'}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if state != "Z" and (marker in environ or str(root) in cmdline):
            found.append((int(entry.name), cmdline.strip()))
    return found


def _stop(daemon: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()


def _drain(cluster: Cluster) -> None:
    """Cancel whatever a test left in the queue and wait until it is gone."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while (jobs := cluster.queue()) and time.monotonic() < deadline:
        cluster.client("scancel", *{job.split()[0].split("_")[0] for job in jobs})
        time.sleep(0.5)


@contextmanager
def slurm_cluster() -> Iterator[Cluster]:
    """A running cluster whose node is idle; on exit its jobs are cancelled, its daemons
    stopped, nothing of it is left running and its folder is removed."""
    if os.geteuid() != 0:
        pytest.fail("the Slurm cluster needs root: slurmd runs each job as its user")
    commands = {name: _command(name) for name in COMMANDS}
    # Not pytest's tmp_path: the cluster's folder must be reachable by the daemons and jobs,
    # and be removed whatever becomes of the test run.
    root = Path(tempfile.mkdtemp(prefix="nnlab-slurm-"))
    root.chmod(0o755)
    (root / "state").mkdir()
    (root / "spool").mkdir()
    key_dir, socket_dir = root / "munge-key", root / "munge"
    key_dir.mkdir(mode=0o700)
    socket_dir.mkdir(mode=0o755)
    key = key_dir / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    munge_socket = socket_dir / "munge.socket"
    conf = root / "slurm.conf"
    node_config = _node_config()
    conf.write_text(_slurm_conf(root, node_config, munge_socket))
    node = node_config.split()[0].removeprefix("NodeName=")
    cluster = Cluster(root, conf, node)
    env = {**os.environ, **cluster.env}
    daemons: list[subprocess.Popen] = []
    try:
        daemons.append(_start(
            [commands["munged"], "--foreground", "--force", f"--socket={munge_socket}",
             f"--key-file={key}", f"--pid-file={key_dir / 'munged.pid'}",
             f"--seed-file={key_dir / 'munged.seed'}", f"--log-file={root / 'munged.log'}"],
            root, "munged", env))
        _wait_until(munge_socket.exists, "munged's socket", daemons, root)
        daemons.append(_start([commands["slurmctld"], "-D", "-f", str(conf)], root,
                              "slurmctld", env))
        daemons.append(_start([commands["slurmd"], "-D", "-f", str(conf), "-N", node], root,
                              "slurmd", env))

        def node_idle() -> bool:
            listed = cluster.client("sinfo", "--noheader", "--Node", "--format=%T")
            return listed.returncode == 0 and listed.stdout.split() == ["idle"]

        _wait_until(node_idle, f"node {node} idle", daemons, root)
        yield cluster
    finally:
        try:
            if len(daemons) == 3 and all(daemon.poll() is None for daemon in daemons):
                _drain(cluster)
        finally:
            for daemon in reversed(daemons):
                _stop(daemon)
            deadline = time.monotonic() + 10
            while (left := processes_of(root)) and time.monotonic() < deadline:
                time.sleep(0.2)
            for pid, _ in left:  # the cluster's own processes, by pid: nothing else
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            logs = _logs(root) if left else ""
            shutil.rmtree(root, ignore_errors=True)
    assert not left, f"processes of the Slurm cluster left after its teardown: {left}\n{logs}"
