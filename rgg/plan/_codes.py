"""The cell codes of a call: each cell's position among the compared groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .._types import RestScope
    from ._groups import Groups


@dataclass(frozen=True)
class CellCodes:
    """Which side of the comparison each cell is on.

    Attributes
    ----------
    cell_codes
        Per cell: position of its group in ``group_labels``; ``len(group_labels)`` for the
        other cells in one-vs-rest mode (they belong to "rest"); ``-1`` in reference mode,
        and in one-vs-rest mode with ``rest_scope='groups'`` (they take no part).
    n_per_code
        Cells per code (length ``len(group_labels) + 1`` in one-vs-rest mode).
    """

    cell_codes: np.ndarray
    n_per_code: np.ndarray

    @property
    def n_cells(self) -> int:
        """Rows of the tested matrix."""
        return int(self.cell_codes.shape[0])

    @property
    def n_ranked(self) -> int:
        """Cells that take part in the comparison (all cells, unless ``rest_scope='groups'``)."""
        return int(self.n_per_code.sum())


def resolve_cell_codes(groups: Groups, rest_scope: RestScope, groupby: str) -> CellCodes:
    """Code every cell by its selected group; in one-vs-rest mode, check that each group has
    a rest of at least 2 cells."""
    positions = groups.group_categories
    # one slot per category, one for the pooled reference, and the last one (-1) for NaN
    code_of_category = np.full(groups.n_categories + 2, -1, dtype=np.int32)
    code_of_category[positions] = np.arange(len(positions), dtype=np.int32)
    cell_codes = code_of_category[groups.category_codes]
    n_codes = len(positions)
    if groups.reference_index is None:
        if rest_scope == "all":
            cell_codes[cell_codes < 0] = len(positions)  # unselected and NaN cells: "rest"
        n_codes += 1  # the remainder code (empty when the rest is the selected groups only)
    n_per_code = np.bincount(cell_codes[cell_codes >= 0], minlength=n_codes).astype(np.int64)
    if groups.reference_index is None:
        _check_rest_has_cells(groups.group_labels, n_per_code, groupby)
    return CellCodes(cell_codes=cell_codes, n_per_code=n_per_code)


def _check_rest_has_cells(group_labels: list[str], n_per_code: np.ndarray, groupby: str) -> None:
    """One-vs-rest needs at least 2 cells outside each group, as every group needs 2 cells."""
    total = int(n_per_code.sum())
    rests = {
        label: total - int(n)
        for label, n in zip(group_labels, n_per_code, strict=False)
        if total - n < 2
    }
    if not rests:
        return
    label, n_rest = next(iter(rests.items()))
    if n_rest == 0:
        msg = (
            f"every cell is in group {label!r} of adata.obs[{groupby!r}], so reference='rest' "
            "leaves no cell to compare it with. Group by a column with two or more groups (or "
            "subset the data less)."
        )
    else:
        msg = (
            f"only {n_rest} cell is outside group {label!r} of adata.obs[{groupby!r}], so "
            "reference='rest' has a single cell to compare it with; a test needs at least 2 "
            "cells on each side (scanpy's numbers here are not a test). Leave the group out "
            "with groups=[...], or group the cells differently."
        )
    raise ValueError(msg)
