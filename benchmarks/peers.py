"""Runners for the benchmark's third-party peers: illico, hpdex, pdex and pegasus.

Each factory takes the thread count and returns ``run(adata, groupby, **kwargs)``, which
takes the keyword arguments of ``scanpy.tl.rank_genes_groups`` for the cases the peer
supports, calls the peer's own API and stores its result in ``adata.uns['rank_genes_groups']``
in scanpy's layout (record arrays ``names``, ``scores``, ``pvals``, ``pvals_adj``,
``logfoldchanges``, one field per group, each sorted by score). What ``scores`` holds differs
between peers, see ``benchmarks/README.md``.

The peers are imported inside the factories: none of them is a dependency of rgg, and the
benchmark runs without them (``pip install -e .[bench]`` installs them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "hpdex_runner",
    "illico_runner",
    "pdex_runner",
    "pegasus_runner",
    "scanpy_layout",
    "u_test_layout",
]

Runner = Callable[..., None]


def unsupported(peer: str, kwargs: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Raise if ``kwargs`` holds an argument the ``peer`` runner cannot honour."""
    extra = sorted(set(kwargs) - set(allowed))
    if extra:
        msg = f"{peer} runner: unsupported arguments {extra}"
        raise TypeError(msg)


def scanpy_layout(
    groups: Sequence[str],
    genes: np.ndarray,
    columns: Mapping[str, np.ndarray],
    order_by: np.ndarray,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """``adata.uns['rank_genes_groups']`` in scanpy's layout from per-group arrays.

    Parameters
    ----------
    groups
        Group names, one per row of the arrays.
    genes
        Gene names, one per column.
    columns
        ``scores``, ``pvals``, ... -> array of shape ``(len(groups), len(genes))``.
    order_by
        Array of the same shape; every group's genes are sorted by it, largest first.
    params
        Stored as ``params``.
    """
    order = np.argsort(-order_by, axis=1, kind="stable")
    result: dict[str, Any] = {"params": dict(params)}
    result["names"] = np.rec.fromarrays(
        list(genes[order].astype(object)), dtype=[(g, "O") for g in groups]
    )
    for key, values in columns.items():
        ordered = np.take_along_axis(np.asarray(values), order, axis=1)
        result[key] = np.rec.fromarrays(
            list(ordered), dtype=[(g, ordered.dtype.str) for g in groups]
        )
    return result


def u_test_layout(
    table: Any,
    n_targets: int,
    rows: Sequence[int],
    groups: Sequence[str],
    genes: np.ndarray,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """scanpy's layout from the long table of hpdex or pdex (which share its columns).

    ``table`` has a row per (target, gene), targets in blocks of all genes in var order;
    ``rows`` picks the block of each of ``groups``. Genes are sorted by U (``statistic``).
    """

    def wide(column: str) -> np.ndarray:
        return table[column].to_numpy().reshape(n_targets, genes.size)[list(rows)]

    statistic = wide("statistic")
    columns = {
        "scores": statistic,
        "pvals": wide("p_value"),
        "pvals_adj": wide("fdr"),
        "logfoldchanges": wide("log2_fold_change").astype(np.float32),
    }
    return scanpy_layout(groups, genes, columns, order_by=statistic, params=params)


# --- illico -------------------------------------------------------------------------------


def illico_runner(n_jobs: int) -> Runner:
    """``illico.asymptotic_wilcoxon`` with ``n_threads=n_jobs``, scanpy's statistic.

    Continuity correction off (scanpy has none), tie correction as the case asks (scanpy's
    ``tie_correct``, off by default), fold changes as scanpy (``exp_post_agg=True``) and the
    result returned in scanpy's layout by illico itself (``return_as_scanpy=True``: z-scores,
    BH-adjusted p-values per group, genes sorted by z). illico does not compute ``pts``.
    """
    os.environ.setdefault("TQDM_DISABLE", "1")
    from illico import asymptotic_wilcoxon
    from loguru import logger

    logger.disable("illico")

    def run(adata: Any, groupby: str, **kwargs: Any) -> None:
        unsupported("illico", kwargs, ["method", "tie_correct", "pts", "reference"])
        if kwargs.get("method", "wilcoxon") != "wilcoxon":
            msg = f"illico only runs the Wilcoxon test, not {kwargs['method']!r}"
            raise ValueError(msg)
        adata.uns["rank_genes_groups"] = asymptotic_wilcoxon(
            adata,
            is_log1p=True,
            group_keys=groupby,
            reference=kwargs.get("reference"),
            n_threads=n_jobs,
            use_continuity=False,
            tie_correct=bool(kwargs.get("tie_correct", False)),
            exp_post_agg=True,
            return_as_scanpy=True,
            corr_method="benjamini-hochberg",
        )

    return run


# --- hpdex --------------------------------------------------------------------------------


def hpdex_runner(n_jobs: int) -> Runner:
    """``hpdex.parallel_differential_expression`` against a reference, ``threads=n_jobs``.

    Continuity correction off and tie correction as the case asks, so that its p-values are
    scanpy's. hpdex reports the target group's Mann-Whitney U, not a z-score: ``scores``
    holds U, by which the genes are sorted (within a group without tie correction this is
    the order of scanpy's z). ``pvals_adj`` is hpdex's ``fdr``, BH over all groups and genes
    at once (scanpy adjusts per group); ``logfoldchanges`` is hpdex's ``log2_fold_change``.
    """
    import hpdex

    logging.getLogger("hpdex").setLevel(logging.WARNING)

    def run(adata: Any, groupby: str, **kwargs: Any) -> None:
        unsupported("hpdex", kwargs, ["method", "tie_correct", "reference"])
        reference = kwargs.get("reference")
        if kwargs.get("method", "wilcoxon") != "wilcoxon" or reference is None:
            msg = "hpdex only runs the Wilcoxon test against a reference group"
            raise ValueError(msg)
        table = hpdex.parallel_differential_expression(
            adata,
            groupby_key=groupby,
            reference=reference,
            metric="wilcoxon",
            tie_correction=bool(kwargs.get("tie_correct", False)),
            use_continuity=False,
            threads=n_jobs,
            show_progress=False,
        )
        groups = [g for g in adata.obs[groupby].cat.categories if g != reference]
        genes = np.asarray(adata.var_names)
        # One row per (target, feature): targets in blocks of all genes, genes in var order.
        n_genes = genes.size
        targets = table["target"].to_numpy()[::n_genes]
        if not np.array_equal(table["feature"].to_numpy()[:n_genes], genes):
            msg = "hpdex returned its genes in an unexpected order"
            raise RuntimeError(msg)
        rows = [list(targets).index(g) for g in groups]
        adata.uns["rank_genes_groups"] = u_test_layout(
            table, targets.size, rows, groups, genes,
            params={"groupby": groupby, "reference": reference, "method": "hpdex-wilcoxon"},
        )  # fmt: skip

    return run


# --- pdex ---------------------------------------------------------------------------------


def pdex_runner(n_jobs: int) -> Runner:
    """Arc Institute's ``pdex.pdex`` with ``threads=n_jobs`` (Numba threads).

    ``mode='ref'`` against the ``reference`` group, ``mode='all'`` one-vs-rest when there is
    none. pdex always runs the tie-corrected Mann-Whitney U test with a continuity correction
    (its kernels, from numba-mwu, are called with their defaults; pdex has no option for
    either), so its p-values are those of ``scipy.stats.mannwhitneyu(method='asymptotic')``,
    not scanpy's: the runner accepts only ``tie_correct=True``. ``scores`` holds the group's
    U, by which the genes are sorted (not quite the order of scanpy's tie-corrected z, whose
    variance differs between genes). ``pvals_adj`` is pdex's ``fdr``, Benjamini-Hochberg per
    group as in scanpy; ``logfoldchanges`` is its ``log2_fold_change`` with
    ``is_log1p=True, geometric_mean=True`` and the default pseudocount 1e-9, which is
    scanpy's formula, ``log2((expm1(mean) + 1e-9) / (expm1(mean_ref) + 1e-9))``.
    """
    import pdex

    logging.getLogger("pdex").setLevel(logging.ERROR)

    def run(adata: Any, groupby: str, **kwargs: Any) -> None:
        unsupported("pdex", kwargs, ["method", "tie_correct", "reference"])
        if kwargs.get("method", "wilcoxon") != "wilcoxon":
            msg = f"pdex only runs the Mann-Whitney U test, not {kwargs['method']!r}"
            raise ValueError(msg)
        if not kwargs.get("tie_correct", False):
            msg = "pdex always corrects for ties: run it only with tie_correct=True"
            raise ValueError(msg)
        reference = kwargs.get("reference")
        mode_kwargs = (
            {"mode": "all"} if reference is None else {"mode": "ref", "reference": reference}
        )
        table = pdex.pdex(
            adata, groupby, threads=n_jobs, is_log1p=True, geometric_mean=True, **mode_kwargs
        )
        groups = [g for g in adata.obs[groupby].cat.categories if g != reference]
        genes = np.asarray(adata.var_names)
        # One block of rows per group (in category order), each holding every gene in var order.
        n_genes = genes.size
        if table.height != len(groups) * n_genes:
            msg = f"pdex returned {table.height} rows, expected {len(groups)} x {n_genes}"
            raise RuntimeError(msg)
        if table["target"].gather_every(n_genes).to_list() != groups or not np.array_equal(
            table["feature"].head(n_genes).to_numpy(), genes
        ):
            msg = "pdex returned its groups or genes in an unexpected order"
            raise RuntimeError(msg)
        adata.uns["rank_genes_groups"] = u_test_layout(
            table, len(groups), list(range(len(groups))), groups, genes,
            params={"groupby": groupby, "reference": reference or "rest",
                    "method": "pdex-wilcoxon"},
        )  # fmt: skip

    return run


# --- pegasus ------------------------------------------------------------------------------


def pegasus_runner(n_jobs: int) -> Runner:
    """``pegasus.de_analysis`` (one-vs-rest) with ``n_jobs=n_jobs`` worker processes.

    For ``method='wilcoxon'``: pegasus always computes the Mann-Whitney U test (tie- and
    continuity-corrected p-values, as float32), AUROC, log2 means and fold change, and the
    percentages of expressing cells. ``scores`` holds the group's U, by which the genes are
    sorted. For ``method='t-test'`` (``t=True``): ``scores`` holds Welch's t, which it
    computes in addition to all of the above.
    """
    import pegasus

    logging.getLogger("pegasus").setLevel(logging.WARNING)

    def run(adata: Any, groupby: str, **kwargs: Any) -> None:
        unsupported("pegasus", kwargs, ["method", "tie_correct", "pts"])
        method = kwargs.get("method", "wilcoxon")
        if method not in ("wilcoxon", "t-test"):
            msg = f"pegasus runner: no equivalent of method={method!r}"
            raise ValueError(msg)
        if method == "wilcoxon" and not kwargs.get("tie_correct", False):
            msg = "pegasus always corrects for ties: run it only with tie_correct=True"
            raise ValueError(msg)
        welch = method == "t-test"
        pegasus.de_analysis(adata, cluster=groupby, n_jobs=n_jobs, t=welch, verbose=False)
        records = adata.varm["de_res"]
        groups = list(adata.obs[groupby].cat.categories)

        def wide(suffix: str) -> np.ndarray:
            return np.stack([np.asarray(records[f"{g}:{suffix}"]).ravel() for g in groups])

        test = "t_tstat" if welch else "mwu_U"
        p, q = ("t_pval", "t_qval") if welch else ("mwu_pval", "mwu_qval")
        scores = wide(test)
        adata.uns["rank_genes_groups"] = scanpy_layout(
            groups,
            np.asarray(adata.var_names),
            {
                "scores": scores,
                "pvals": wide(p),
                "pvals_adj": wide(q),
                "logfoldchanges": wide("log2FC"),
            },
            order_by=scores,
            params={"groupby": groupby, "reference": "rest", "method": f"pegasus-{method}"},
        )

    return run
