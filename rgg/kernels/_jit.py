"""The one place where rgg's kernels are compiled.

Every kernel is cached on disk (``cache=True``), so only the first process on a machine pays
for Numba's compilation. ``nogil`` lets callers overlap kernels with I/O threads.
"""

from __future__ import annotations

from functools import partial

import numba

njit = partial(numba.njit, cache=True, nogil=True)
"""Serial kernel."""

pnjit = partial(numba.njit, cache=True, nogil=True, parallel=True)
"""Kernel whose ``numba.prange`` loops run on Numba's thread pool."""

prange = numba.prange
