"""A Dask cluster as on a real one: ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

Free ports (port 0; the address is read from the scheduler file, and the scheduler's HTTP
server, which runs even without the dashboard, gets a free port too). Each worker is one
process without a nanny (``--no-nanny``), so killing it loses the worker for good, as a lost
node would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._processes import stop

DASK = str(Path(sys.executable).with_name("dask"))


@dataclass(frozen=True)
class DaskCluster:
    """A running cluster: its scheduler's address and the worker processes."""

    address: str
    workers: list[subprocess.Popen]
    root: Path

    def logs(self) -> str:
        """The end of each process's log, for a failure message."""
        return "\n".join(
            f"--- {path.name} (end)\n{path.read_text()[-3000:]}"
            for path in sorted(self.root.glob("*.log"))
        )


@contextmanager
def dask_cluster(root: Path, n_workers: int = 2) -> Iterator[DaskCluster]:
    """Start a scheduler and ``n_workers`` one-thread workers; stop them all on exit."""
    import distributed

    root.mkdir(parents=True, exist_ok=True)
    scheduler_file = root / "scheduler.json"
    with ExitStack() as stack:
        command = [
            DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(scheduler_file),
        ]  # fmt: skip
        stack.callback(stop, _start(command, root / "scheduler.log"))
        address = _address(scheduler_file, root)
        workers = []
        for i in range(n_workers):
            command = [
                DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                "--no-nanny", "--no-dashboard", "--name", f"worker-{i}",
                "--local-directory", str(root / f"worker-{i}"),
            ]  # fmt: skip
            workers.append(_start(command, root / f"worker-{i}.log"))
            stack.callback(stop, workers[-1])
        cluster = DaskCluster(address, workers, root)
        with distributed.Client(address, set_as_default=False, timeout="60s") as client:
            try:
                client.wait_for_workers(n_workers, timeout=120)
            except TimeoutError as error:
                msg = f"{n_workers} Dask workers did not connect in 120 s\n{cluster.logs()}"
                raise RuntimeError(msg) from error
        yield cluster


def _start(command: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def _address(scheduler_file: Path, root: Path, timeout: float = 60) -> str:
    """The scheduler's address, once it has written its scheduler file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    log = (root / "scheduler.log").read_text()
    msg = f"dask scheduler wrote no {scheduler_file.name} in {timeout:.0f} s:\n{log}"
    raise RuntimeError(msg)
