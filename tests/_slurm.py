"""A single-node SLURM cluster for the tests: munged, slurmctld and slurmd in a temporary folder.

Debian's ``slurm-wlm`` and ``munge`` packages (installed with apt-get when missing and the
tests run as root). The daemons run as root with their own key, ports, state and logs under
the folder given to :func:`slurm_cluster`; nothing under /etc is read or written, so two
pytest-xdist workers can each run a cluster. No cgroups (proctrack/linuxproc, task/none) and
no slurmdbd: ``sacct`` reads the job completion records (``JobCompType=jobcomp/filetxt``,
``sacct --completion``), which SLURM writes for every job that ends.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._processes import stop

PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
COMMANDS = ("sbatch", "srun", "squeue", "sacct", "sinfo", "scancel")


@dataclass(frozen=True)
class SlurmCluster:
    """A running cluster.

    Attributes
    ----------
    root
        The folder with its config, key, state, spool and logs.
    env
        The environment for commands that use it: ``SLURM_CONF`` and a ``PATH`` whose first
        folder holds an ``srun`` that finds the config (see :func:`_write_srun`).
    """

    root: Path
    env: dict[str, str]

    def run(self, *command: str) -> str:
        """Run a SLURM client command against this cluster and return its standard output."""
        result = subprocess.run(
            command, env=self.env, capture_output=True, text=True, check=False, timeout=60
        )
        if result.returncode != 0:
            msg = f"{' '.join(command)} failed ({result.returncode}): {result.stderr}"
            raise RuntimeError(msg)
        return result.stdout

    def finished_jobs(self) -> dict[str, dict[str, str]]:
        """``sacct``'s record of every job that ended, by job id (JobName, State, ExitCode)."""
        fields = ("JobID", "JobName", "State", "ExitCode")
        out = self.run(
            "sacct", "--completion", "--parsable2", "--noheader", f"--format={','.join(fields)}"
        )
        records = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]
        return {record["JobID"]: record for record in records}

    def logs(self) -> str:
        """The daemons' logs, for a failure message."""
        return "\n".join(
            f"--- {path.name} (end)\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted((self.root / "log").iterdir())
        )


def why_not_here() -> str | None:
    """Why this machine cannot run the cluster, or None when it can (maybe after an install)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the SLURM tests start munged, slurmctld and slurmd, which needs root"
    if _missing():
        if shutil.which("apt-get") is None:
            return f"the SLURM tests need Debian's {' and '.join(PACKAGES)} (no apt-get here)"
        _install()
        if _missing():
            return (
                f"could not install {' '.join(PACKAGES)} with apt-get (no Debian mirror?); "
                f"run `apt-get install {' '.join(PACKAGES)}`"
            )
    return None


def _which(name: str) -> str | None:
    """``name`` on PATH, or in the sbin folders where Debian puts the daemons."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which(name, path=path)


def _missing() -> list[str]:
    return [name for name in (*DAEMONS, *COMMANDS) if _which(name) is None]


def _install() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    # pytest-xdist workers may get here together: one installs, the other waits
    with open("/tmp/rgg-slurm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _missing():
            return
        done = subprocess.run(install, env=env, capture_output=True, check=False, timeout=900)
        if done.returncode != 0:  # an old package list: update it once and retry
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=900)
            subprocess.run(install, env=env, capture_output=True, check=False, timeout=900)


@contextmanager
def slurm_cluster(root: Path, *, memory_mb: int = 8000) -> Iterator[SlurmCluster]:
    """Start munged, slurmctld and slurmd under ``root``; stop them (and every job) on exit.

    One node, this host, with all its CPUs and ``memory_mb`` of memory for jobs (at most 80%
    of the machine's), in one partition ``debug``.
    """
    physical_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    memory_mb = min(memory_mb, int(0.8 * physical_mb))
    for folder in ("state", "spool", "log", "bin"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    root.chmod(0o711)  # munged wants its socket's folder searchable, and no one else writing
    host = socket.gethostname().split(".")[0]
    conf = _write_config(root, host, memory_mb)
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    _write_srun(root, conf)
    env = {
        **os.environ,
        "SLURM_CONF": str(conf),
        "PATH": os.pathsep.join([str(root / "bin"), os.environ.get("PATH", "")]),
    }
    cluster = SlurmCluster(root, env)
    with ExitStack() as stack:
        munged = [
            _which("munged"), "--foreground", "--force", f"--socket={root / 'munge.sock'}",
            f"--key-file={key}", f"--log-file={root / 'log' / 'munged.log'}",
            f"--pid-file={root / 'munged.pid'}", f"--seed-file={root / 'munged.seed'}",
        ]  # fmt: skip
        stack.callback(stop, _start(munged, root, env))
        _wait_for(lambda: (root / "munge.sock").exists(), "munged's socket", cluster)
        stack.callback(stop, _start([_which("slurmctld"), "-D", "-i"], root, env))
        stack.callback(stop, _start([_which("slurmd"), "-D", "-N", host], root, env))
        stack.callback(_cancel_jobs, cluster)  # first on exit: what a failed test left
        _wait_for(lambda: _node_state(cluster) == "idle", "an idle node", cluster)
        yield cluster


def _write_config(root: Path, host: str, memory_mb: int) -> Path:
    ports = _free_ports(2)
    lines = [
        "ClusterName=rggtest",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={ports[0]}",
        f"SlurmdPort={ports[1]}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={root / 'munge.sock'}",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={root / 'log' / 'jobcomp.txt'}",
        "MpiDefault=none",
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "DefMemPerCPU=1000",
        "ReturnToService=2",
        "MinJobAge=600",  # squeue keeps ended jobs this long: Snakemake reads their state there
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
    ]
    conf = root / "slurm.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def _write_srun(root: Path, conf: Path) -> None:
    """An ``srun`` that finds this cluster's config.

    The SLURM executor plugin's job step drops every ``SLURM_*`` variable, ``SLURM_CONF``
    included, before it calls srun inside the job; a real cluster's config is at the default
    place (/etc/slurm) or served by slurmctld, so srun finds it without. This one sets it.
    """
    srun = root / "bin" / "srun"
    srun.write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {_which("srun")} "$@"\n')
    srun.chmod(0o755)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _start(command: list[str], root: Path, env: dict[str, str]) -> subprocess.Popen:
    with (root / "log" / f"{Path(command[0]).name}.out").open("w") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _cancel_jobs(cluster: SlurmCluster) -> None:
    """Cancel what a failed test left queued or running, and let slurmd end its job steps."""
    subprocess.run(["scancel", "--full", "--user=root"], env=cluster.env, check=False, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if not cluster.run("squeue", "--noheader", "--states=RUNNING,PENDING,COMPLETING"):
                return
        except (RuntimeError, subprocess.TimeoutExpired):
            return
        time.sleep(0.5)


def _node_state(cluster: SlurmCluster) -> str | None:
    try:
        return cluster.run("sinfo", "--noheader", "--format=%T").strip()
    except (RuntimeError, subprocess.TimeoutExpired):
        return None


def _wait_for(ready, what: str, cluster: SlurmCluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            msg = f"the test SLURM cluster did not get {what} in {timeout:.0f} s\n{cluster.logs()}"
            raise RuntimeError(msg)
        time.sleep(0.25)
