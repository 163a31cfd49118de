"""A workflow config as the schema leaves it, for the tests of rgg.workflow."""

from __future__ import annotations

from typing import Any

from rgg import datasets

PBMC = str(datasets.pbmc68k_reduced_path())
SYNTHETIC = str(datasets.synthetic_path())


def workflow_config(**changes: Any) -> dict[str, Any]:
    """A config as the schema leaves it (defaults filled in)."""
    test_defaults = {
        "method": "t-test", "corr_method": "benjamini-hochberg", "tie_correct": False,
        "reference": "rest", "groups": None, "n_genes": None, "rankby_abs": False,
        "pts": False, "mask_var": None, "logreg": {},
    }  # fmt: skip
    config = {
        "results": "results",
        "datasets": {
            "pbmc": {"path": PBMC, "layer": None, "use_raw": None},
            "synth": {"path": SYNTHETIC, "layer": "counts", "use_raw": None},
        },
        "groupings": {
            "bulk_labels": {"column": None, "datasets": ["pbmc"]},
            "types": {"column": "cell_type", "datasets": ["synth"]},
        },
        "tests": {
            "wilcoxon": {**test_defaults, "method": "wilcoxon", "pts": True},
            "vs-b": {**test_defaults, "method": "wilcoxon", "reference": "B cell"},
        },
        "comparisons": {
            "include": None,
            "exclude": [{"grouping": "bulk_labels", "test": "vs-b"}],  # no 'B cell' in PBMC
        },
    }
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = config
        for key in parents:
            node = node[key]
        node[leaf] = value
    return config
