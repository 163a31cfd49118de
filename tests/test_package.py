"""The package root: its public names, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rgg
import rgg.io


@pytest.mark.parametrize("package", [rgg, rgg.io], ids=["rgg", "rgg.io"])
def test_every_public_name_resolves(package) -> None:
    for name in package.__all__:
        assert getattr(package, name) is not None, name
        assert name in dir(package)
    with pytest.raises(AttributeError, match="no attribute 'rank_gene_groups'"):
        package.rank_gene_groups  # noqa: B018


def test_public_names_are_the_documented_ones() -> None:
    from rgg.api import rank_genes_groups
    from rgg.io.parquet import read_results

    assert rgg.rank_genes_groups is rank_genes_groups
    assert rgg.io.read_results is read_results
    assert set(rgg.__all__) == {"__version__", *rgg._PUBLIC}
    assert set(rgg.io.__all__) == set(rgg.io._PUBLIC)


def test_import_and_version_do_not_load_numba_or_anndata() -> None:
    """What the Snakefile and `rgg --version` import must not pull in the numerical stack."""
    code = (
        "import sys, rgg, rgg.io, rgg.io.provenance, rgg.cli\n"
        "print(rgg.__version__)\n"
        "heavy = sorted({'numba', 'anndata', 'polars', 'scipy', 'sklearn'} & set(sys.modules))\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    version, heavy = result.stdout.splitlines()
    assert version == rgg.__version__
    assert heavy == "", f"importing rgg loaded {heavy}"
