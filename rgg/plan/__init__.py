"""Validate a ``rank_genes_groups`` call and resolve it into a frozen :class:`Plan`.

Every message about bad user input lives here. Nothing in this package mutates the AnnData:
a call that fails leaves ``adata`` exactly as it was.

:func:`build_plan` runs one step per part of the plan, in scanpy's order of checks: the
options (:mod:`._options`), the groups and the reference (:mod:`._groups`), the matrix and
the gene mask (:mod:`._genes`), the cell codes (:mod:`._codes`).
"""

from __future__ import annotations

from ._codes import CellCodes
from ._genes import TestedGenes, names_of_tested_genes
from ._groups import Groups
from ._options import Options
from ._plan import Plan, build_plan

__all__ = [
    "CellCodes",
    "Groups",
    "Options",
    "Plan",
    "TestedGenes",
    "build_plan",
    "names_of_tested_genes",
]
