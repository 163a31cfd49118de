"""rest_scope='groups' (rgg's opt-in addition): "rest" is the other selected groups only.

The oracle is scanpy itself on the subset of cells in the selected groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rgg
from rgg import cli

from ._data import MATRIX_KINDS, awkward_adata

sc = pytest.importorskip("scanpy")


@pytest.mark.parametrize("method", ["t-test", "t-test_overestim_var", "wilcoxon"])
@pytest.mark.parametrize(("kind", "make"), MATRIX_KINDS[:3], ids=[k for k, _ in MATRIX_KINDS[:3]])
def test_rest_of_selected_groups_equals_scanpy_on_the_subset(kind: str, make, method: str) -> None:
    adata = awkward_adata(make, np.float64, seed=4)  # NaN labels too: not in any group
    groups = [str(label) for label in adata.obs["group"].cat.categories[:3]]
    rgg.rank_genes_groups(
        adata,
        "group",
        groups=groups,
        method=method,
        rest_scope="groups",
        pts=True,
        tie_correct=True,
    )
    subset = adata[adata.obs["group"].isin(groups)].copy()
    subset.obs["group"] = subset.obs["group"].cat.remove_unused_categories()
    sc.tl.rank_genes_groups(subset, "group", method=method, pts=True, tie_correct=True)
    ours, theirs = adata.uns["rank_genes_groups"], subset.uns["rank_genes_groups"]
    assert ours["params"]["rest_scope"] == "groups"
    for group in groups:
        frame_ours = pd.DataFrame({f: ours[f][group] for f in ("names", "scores", "pvals")})
        frame_theirs = pd.DataFrame({f: theirs[f][group] for f in ("names", "scores", "pvals")})
        merged = frame_ours.merge(frame_theirs, on="names", suffixes=("", "_scanpy"))
        assert len(merged) == adata.n_vars
        np.testing.assert_allclose(merged["scores"], merged["scores_scanpy"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(merged["pvals"], merged["pvals_scanpy"], rtol=1e-4, atol=1e-12)
    pd.testing.assert_frame_equal(ours["pts_rest"], theirs["pts_rest"], check_exact=False)


def test_default_rest_is_every_other_cell() -> None:
    adata = rgg.datasets.synthetic()
    groups = ["NK", "DC"]
    default = rgg.rank_genes_groups(adata, "cell_type", groups=groups, copy=True)
    narrowed = rgg.rank_genes_groups(
        adata, "cell_type", groups=groups, rest_scope="groups", copy=True
    )
    assert "rest_scope" not in default.uns["rank_genes_groups"]["params"]
    assert not np.array_equal(
        default.uns["rank_genes_groups"]["scores"]["NK"],
        narrowed.uns["rank_genes_groups"]["scores"]["NK"],
    )


def test_unknown_rest_scope_is_named(tmp_path) -> None:
    adata = rgg.datasets.synthetic()
    with pytest.raises(ValueError, match="rest_scope must be one of"):
        rgg.rank_genes_groups(adata, "cell_type", rest_scope="selected")
    out = tmp_path / "t.parquet"
    argv = [
        "rank",
        str(rgg.datasets.synthetic_path()),
        "--groupby",
        "cell_type",
        "--groups",
        "NK",
        "DC",
    ]
    assert cli.main([*argv, "--rest-scope", "groups", "--out", str(out)]) == 0
    assert rgg.io.read_results(out)[1]["rest_scope"] == "groups"


def test_one_selected_group_has_no_rest() -> None:
    adata = rgg.datasets.synthetic()
    with pytest.raises(ValueError, match="select at least two groups"):
        rgg.rank_genes_groups(adata, "cell_type", groups=["NK"], rest_scope="groups")
