"""Daemons the tests start (a SLURM cluster, a Dask cluster): stopping them."""

from __future__ import annotations

import signal
import subprocess


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """End a daemon the tests started: SIGTERM, then SIGKILL if it is still there."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
