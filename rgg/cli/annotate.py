"""``rgg annotate``: copy an h5ad file, adding the results of ``rgg rank --uns-out`` to its uns."""

from __future__ import annotations

import argparse
from typing import Any

from ..io.paths import check_output_paths
from ._options import Subcommands, say


def add_parser(commands: Subcommands) -> None:
    """Declare ``rgg annotate`` and its options."""
    annotate = commands.add_parser(
        "annotate",
        help="copy an h5ad file, adding the results of `rgg rank --uns-out` to its uns",
        description="Read INPUT and write it to --out with each RESULTS file's uns entries "
        "(scanpy's rank_genes_groups structure, under the key each was ranked with) added, "
        "so that scanpy's rank_genes_groups_df and plots work on the file after "
        "anndata.read_h5ad, also when group labels contain '/'. Results of about 1,000 groups "
        "or more, or with labels no HDF5 name can hold ('../x', '/a', '.', an empty label), "
        "are stored in rgg's columns layout: read those with rgg.read_h5ad. Written atomically.",
    )
    annotate.add_argument("input", help="the .h5ad file the results were computed on")
    annotate.add_argument(
        "results", nargs="+", metavar="RESULTS", help=".h5ad files from `rgg rank --uns-out`"
    )
    annotate.add_argument("--out", required=True, help="the annotated .h5ad file to write")
    annotate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The input h5ad with every result's uns entry added."""
    from ..io.h5ad import copy_with_uns, read_h5ad, read_uns_h5ad
    from ..io.provenance import now, provenance_record, to_json

    started = now()
    check_output_paths(
        {"the input file": args.input, **{f"the results file {p}": p for p in args.results}},
        {"--out": args.out},
    )
    adata = read_h5ad(args.input, backed=True)  # names only: the matrices are copied as bytes
    genes = set(adata.var_names)
    if adata.raw is not None:
        genes |= set(adata.raw.var_names)
    added: dict[str, str] = {}
    records: dict[str, str] = {}
    uns: dict[str, Any] = {}
    for path in args.results:
        entries = read_uns_h5ad(path)
        records.update(entries.pop("rgg_provenance", {}))
        if not entries:
            msg = (
                f"{path} holds no rank_genes_groups result; give the files of `rgg rank --uns-out`."
            )
            raise ValueError(msg)
        for key, result in entries.items():
            if key in added:
                msg = f"{path} and {added[key]} both hold uns[{key!r}]; rank them with different --key-added."
                raise ValueError(msg)
            _check_result_fits(result, adata, genes, key, path)
            uns[key] = result
            added[key] = path
    records["annotate"] = to_json(
        provenance_record(
            command=["rgg", *args.argv], inputs=[args.input, *args.results], started=started
        )
    )
    uns["rgg_provenance"] = records
    adata.file.close()
    copy_with_uns(args.input, uns, args.out)
    say(f"{args.input} with {len(added)} results ({', '.join(added)}) written to {args.out}")
    return 0


def _check_result_fits(result: Any, adata: Any, genes: set[str], key: str, path: str) -> None:
    """Refuse results that were not computed on this data (another groupby or other genes)."""
    if not isinstance(result, dict) or "names" not in result or "params" not in result:
        msg = f"{path}: uns[{key!r}] is not a rank_genes_groups result; make it with `rgg rank --uns-out`."
        raise ValueError(msg)
    groupby = result["params"]["groupby"]
    if groupby not in adata.obs:
        msg = f"{path}: uns[{key!r}] groups cells by obs[{groupby!r}], which this dataset does not have."
        raise ValueError(msg)
    names = result["names"]
    categories = adata.obs[groupby]
    categories = categories.cat.categories if hasattr(categories, "cat") else categories.unique()
    strange = sorted(set(names.dtype.names) - {str(c) for c in categories})
    if strange:
        msg = (
            f"{path}: uns[{key!r}] has results for groups {strange[:3]} that obs[{groupby!r}] of "
            "this dataset does not have; were the results computed on another file (or the "
            "categories renamed since)?"
        )
        raise ValueError(msg)
    unknown = {str(gene) for field in names.dtype.names for gene in names[field]} - genes
    if unknown:
        example = ", ".join(sorted(unknown)[:3])
        msg = (
            f"{path}: uns[{key!r}] ranks {len(unknown)} genes that this dataset does not have "
            f"(e.g. {example}); were the results computed on another file?"
        )
        raise ValueError(msg)
