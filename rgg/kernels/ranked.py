"""Scatter ranked results into scanpy's layout: one row per rank, one column per group."""

from __future__ import annotations

import numpy as np

from ._jit import kernel

_RANKS = 64
_GROUPS = 16
"""A tile of 64 ranks x 16 groups: each group's ranks are read from a few cache lines and
each rank's groups written to one, so that neither side of the transposition strides
through memory (rows of thousands of groups alias in the caches)."""


@kernel(parallel=False)
def gather_ranked(order: np.ndarray, values: np.ndarray, out: np.ndarray, first_col: int) -> None:
    """``out[i, first_col + g] = values[g, order[g, i]]`` for each group row ``g`` and rank ``i``.

    ``values`` are cast to ``out``'s dtype as numpy casts them (float64 to float32 rounds to
    nearest). Serial and free of the GIL: blocks of groups run on the caller's threads.
    """
    n_groups, n_out = order.shape
    for g_lo in range(0, n_groups, _GROUPS):
        g_hi = min(g_lo + _GROUPS, n_groups)
        for lo in range(0, n_out, _RANKS):
            for i in range(lo, min(lo + _RANKS, n_out)):
                for g in range(g_lo, g_hi):
                    out[i, first_col + g] = values[g, order[g, i]]


@kernel(parallel=False)
def transpose_into(order: np.ndarray, out: np.ndarray, first_col: int) -> None:
    """``out[i, first_col + g] = order[g, i]``: the block's rank orders, one column per group."""
    n_groups, n_out = order.shape
    for g_lo in range(0, n_groups, _GROUPS):
        g_hi = min(g_lo + _GROUPS, n_groups)
        for lo in range(0, n_out, _RANKS):
            for i in range(lo, min(lo + _RANKS, n_out)):
                for g in range(g_lo, g_hi):
                    out[i, first_col + g] = order[g, i]
