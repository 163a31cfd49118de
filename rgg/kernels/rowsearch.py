"""Binary searches within the sorted column indices of one CSR row."""

from __future__ import annotations

import numpy as np

from ._jit import njit


@njit
def range_span(indices: np.ndarray, start: int, stop: int, lo: int, hi: int) -> tuple[int, int]:
    """Positions ``first, end`` of the entries of ``indices[start:stop]`` (sorted) in ``[lo, hi)``."""
    first = first_at_least(indices, start, stop, lo)
    return first, first_at_least(indices, first, stop, hi)


@njit
def first_at_least(indices: np.ndarray, start: int, stop: int, value: int) -> int:
    """First position in the sorted ``indices[start:stop]`` holding ``value`` or more."""
    if start == stop or indices[stop - 1] < value:
        return stop
    while start < stop:
        mid = (start + stop) >> 1
        if indices[mid] < value:
            start = mid + 1
        else:
            stop = mid
    return start
