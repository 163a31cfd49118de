"""Resolve the ``scheduler`` option into something that computes Dask graphs; rgg never schedules."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .._settings import resolve_n_jobs

logger = logging.getLogger("rgg")

LOCAL_SCHEDULERS = ("threads", "processes", "synchronous", "sync", "single-threaded")


@dataclass(frozen=True)
class Runner:
    """Computes lists of Dask delayed objects on one scheduler.

    Attributes
    ----------
    scheduler
        What :func:`dask.compute` takes as ``scheduler=`` (a name or a distributed client).
    task_threads
        Numba threads inside one task: 1 where Dask already runs tasks in parallel.
    """

    scheduler: Any
    task_threads: int

    def share(self, value: Any) -> Any:
        """``value`` as a task argument sent to each worker once, not once per task."""
        import dask

        if hasattr(self.scheduler, "scatter"):  # a distributed client
            return self.scheduler.scatter(value, broadcast=True, hash=False)
        return dask.delayed(value, traverse=False, name=f"rgg-shared-{uuid.uuid4().hex}")

    def compute(self, tasks: list[Any]) -> list[Any]:
        """Compute ``tasks`` and return their results in order."""
        import dask

        if not tasks:
            return []
        return list(dask.compute(*tasks, scheduler=self.scheduler))


@contextmanager
def runner_for(scheduler: Any, n_jobs: int | None) -> Iterator[Runner]:
    """A :class:`Runner` for the ``scheduler`` option (see :class:`rgg.lazy.LazyOptions`).

    A local cluster or a client rgg opens for an address is closed on exit; a client the
    user made is left running.
    """
    if isinstance(scheduler, str) and scheduler in LOCAL_SCHEDULERS:
        single = scheduler in {"synchronous", "sync", "single-threaded"}
        yield Runner(scheduler, resolve_n_jobs(n_jobs) if single else 1)
        return
    distributed = _import_distributed(scheduler)
    if isinstance(scheduler, distributed.Client):
        yield Runner(scheduler, 1)
        return
    if scheduler is None:
        try:
            client = distributed.get_client()
        except ValueError:
            client = None
        if client is not None:
            yield Runner(client, 1)
            return
        n_workers = resolve_n_jobs(n_jobs)
        logger.info("rgg: starting a local Dask cluster of %d workers", n_workers)
        with (
            distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, dashboard_address=":0"
            ) as cluster,
            distributed.Client(cluster, set_as_default=False) as client,
        ):
            yield Runner(client, 1)
        return
    if isinstance(scheduler, str):
        try:
            client = distributed.Client(scheduler, set_as_default=False, timeout="30s")
        except OSError as error:
            msg = (
                f"could not reach the Dask scheduler at scheduler={scheduler!r} ({error}). "
                "Start one (dask scheduler / dask worker, or dask-jobqueue) and pass its "
                "address, or pass scheduler=None for a local cluster."
            )
            raise ValueError(msg) from error
        with client:
            yield Runner(client, 1)
        return
    msg = (
        f"scheduler={scheduler!r} is not a Dask scheduler: pass None (local cluster), an "
        f"address such as 'tcp://host:8786', a distributed.Client, or one of {list(LOCAL_SCHEDULERS)}."
    )
    raise TypeError(msg)


def _import_distributed(scheduler: Any) -> Any:
    try:
        import distributed
    except ImportError as error:  # pragma: no cover - distributed is a dependency
        msg = (
            f"scheduler={scheduler!r} needs dask.distributed (pip install distributed), or "
            "use scheduler='threads'."
        )
        raise ImportError(msg) from error
    return distributed
