"""Process-wide settings: how many threads rgg's kernels use, and whether to show progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numba


@dataclass
class Settings:
    """rgg's settings.

    Attributes
    ----------
    n_jobs
        Threads for the Numba kernels. ``None`` or ``-1`` means every thread Numba may use
        (``NUMBA_NUM_THREADS``, by default the number of cores); unlike scanpy, rgg is
        multi-threaded by default. Results do not depend on this number.
    progress
        Show a progress bar over the genes on stderr while ranking (the ``rgg`` command
        turns it on when stderr is a terminal).
    """

    n_jobs: int | None = None
    progress: bool = False

    def __setattr__(self, name: str, value: object) -> None:
        # a misspelled setting (settings.njobs = 4) would otherwise be set and ignored
        if name not in self.__dataclass_fields__:
            from ._errors import did_you_mean

            msg = (
                f"rgg.settings has no setting {name!r}.{did_you_mean(name, self.__dataclass_fields__)} "
                f"Settings: {list(self.__dataclass_fields__)}."
            )
            raise AttributeError(msg)
        super().__setattr__(name, value)


settings = Settings()


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Turn an ``n_jobs`` value into a thread count within Numba's limit."""
    limit = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None or n_jobs == -1:
        return limit
    if n_jobs < 1:
        msg = f"n_jobs={n_jobs} is not a thread count; use a positive number, or -1 for all cores."
        raise ValueError(msg)
    return min(n_jobs, limit)


@contextmanager
def numba_threads(n_jobs: int | None) -> Iterator[int]:
    """Run the body with Numba limited to ``n_jobs`` threads, then restore the previous limit."""
    previous = numba.get_num_threads()
    n_threads = resolve_n_jobs(n_jobs if n_jobs is not None else settings.n_jobs)
    numba.set_num_threads(n_threads)
    try:
        yield n_threads
    finally:
        numba.set_num_threads(previous)
