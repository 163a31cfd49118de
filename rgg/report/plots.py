"""The report's figures, drawn with matplotlib and inlined as PNG data URIs."""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import polars as pl


def _plain_text(plot: Callable[..., str]) -> Callable[..., str]:
    """Draw with mathtext off: a '$' in a gene name or label is a character, not LaTeX."""

    @functools.wraps(plot)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        with plt.rc_context({"text.parse_math": False}):
            return plot(*args, **kwargs)

    return wrapper


def to_data_uri(figure: plt.Figure) -> str:
    """The figure as a base64 PNG data URI; the figure is closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@_plain_text
def dot_plot(means: pd.DataFrame, fractions: pd.DataFrame, groups: Sequence[str]) -> str:
    """Groups x top genes: dot size = fraction of cells expressing, colour = mean value."""
    means, fractions = means.loc[list(groups)], fractions.loc[list(groups)]
    n_groups, n_genes = means.shape
    figure, axes = plt.subplots(
        figsize=(max(4.0, 0.28 * n_genes + 2.5), max(2.5, 0.32 * n_groups + 1.2))
    )
    x, y = np.meshgrid(np.arange(n_genes), np.arange(n_groups))
    points = axes.scatter(
        x.ravel(),
        y.ravel(),
        s=fractions.to_numpy().ravel() * 120 + 1,
        c=means.to_numpy().ravel(),
        cmap="Reds",
        edgecolors="grey",
        linewidths=0.3,
    )
    axes.set_xticks(range(n_genes), means.columns, rotation=90, fontsize=7)
    axes.set_yticks(range(n_groups), means.index, fontsize=8)
    axes.set_xlim(-0.7, n_genes - 0.3)
    axes.set_ylim(n_groups - 0.5, -0.5)
    axes.grid(alpha=0.2)
    colorbar = figure.colorbar(points, ax=axes, shrink=0.6, pad=0.01)
    colorbar.set_label("mean value in group", fontsize=8)
    for fraction in (0.25, 0.5, 1.0):
        axes.scatter(
            [], [], s=fraction * 120 + 1, c="lightgrey", edgecolors="grey", label=f"{fraction:.0%}"
        )
    axes.legend(
        title="expressing",
        fontsize=7,
        title_fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.12, 1.0),
        frameon=False,
    )
    return to_data_uri(figure)


#: Dot plots and heatmaps of group means (one row per group) are drawn up to this many groups.
FIGURE_GROUPS = 50
#: Below this many groups, z-scores across groups say nothing (two groups: always +1 and -1).
MIN_GROUPS_FOR_Z = 3


@_plain_text
def heatmap(means: pd.DataFrame, groups: Sequence[str]) -> str:
    """Groups x top genes: each gene's group means as z-scores across groups, or the means
    themselves for fewer than :data:`MIN_GROUPS_FOR_Z` groups."""
    values = means.loc[list(groups)].to_numpy(dtype=float)
    n_groups, n_genes = values.shape
    figure, axes = plt.subplots(
        figsize=(max(4.0, 0.25 * n_genes + 2.5), max(2.5, 0.3 * n_groups + 1.2))
    )
    if n_groups >= MIN_GROUPS_FOR_Z:
        spread = values.std(axis=0)
        z = (values - values.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
        image = axes.imshow(
            z, aspect="auto", cmap="RdBu_r", vmin=-2.5, vmax=2.5, interpolation="nearest"
        )
        label = "z-score of group mean"
    else:
        image = axes.imshow(values, aspect="auto", cmap="Reds", interpolation="nearest")
        label = "mean value in group"
    axes.set_xticks(range(n_genes), means.columns, rotation=90, fontsize=7)
    axes.set_yticks(range(n_groups), list(groups), fontsize=8)
    colorbar = figure.colorbar(image, ax=axes, shrink=0.6, pad=0.01)
    colorbar.set_label(label, fontsize=8)
    return to_data_uri(figure)


@_plain_text
def significance_bars(counts: pl.DataFrame, n_labels: int = 40) -> str:
    """Significant genes per group, up (above the axis) and down (below), groups sorted by
    their total; labelled when there are few enough to read."""
    ordered = counts.with_columns(total=pl.col("up") + pl.col("down")).sort(
        "total", descending=True, maintain_order=True
    )
    n = ordered.height
    figure, axes = plt.subplots(figsize=(min(11.0, max(4.0, 0.22 * n + 1.5)), 2.8))
    x = np.arange(n)
    edges = np.arange(n + 1) - 0.5
    # one filled outline per direction, not one patch per group (thousands of groups)
    up = ordered["up"].cast(pl.Float64).to_numpy()  # counts are unsigned: negate as floats
    down = ordered["down"].cast(pl.Float64).to_numpy()
    axes.stairs(up, edges, fill=True, color="firebrick", label="up")
    axes.stairs(-down, edges, fill=True, color="steelblue", label="down")
    axes.axhline(0, color="grey", linewidth=0.5)
    if n <= n_labels:
        axes.set_xticks(x, ordered["group"].to_list(), rotation=90, fontsize=7)
    else:
        axes.set_xlabel(f"{n:,} groups, by number of significant genes", fontsize=8)
    axes.set_xlim(-0.6, n - 0.4)
    axes.set_ylabel("significant genes", fontsize=8)
    axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{abs(v):g}"))
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=7, frameon=False)
    return to_data_uri(figure)


def volcano_limit(lfc: np.ndarray) -> float:
    """Half-width of a volcano's x-axis: a robust range (the 99th percentile of |log2 fold
    change|, with a margin), so that one extreme gene does not squeeze the others."""
    finite = np.abs(lfc[np.isfinite(lfc)])
    if finite.size == 0:
        return 1.0
    return max(1.0, 1.15 * float(np.percentile(finite, 99)))


@_plain_text
def volcano_grid(table: pl.DataFrame, groups: Sequence[str], n_labels: int = 3) -> str:
    """One volcano plot per group: log fold change against -log10 adjusted p-value."""
    n_columns = min(4, len(groups))
    n_rows = -(-len(groups) // n_columns)
    figure, grid = plt.subplots(
        n_rows, n_columns, figsize=(3.0 * n_columns, 2.6 * n_rows), squeeze=False
    )
    for axes in grid.ravel()[len(groups) :]:
        axes.axis("off")
    for axes, group in zip(grid.ravel(), groups, strict=False):
        rows = table.filter(pl.col("group") == group)
        lfc = rows["logfoldchange"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        padj = rows["pval_adj"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        height = -np.log10(np.clip(padj, 1e-300, 1.0))
        significant = padj < 0.05
        limit = volcano_limit(lfc)
        clipped = np.abs(lfc) > limit  # drawn at the edge as triangles pointing outwards
        shown = np.clip(lfc, -limit, limit)
        for points, colour in ((~significant, "lightgrey"), (significant, "firebrick")):
            inside, outside = points & ~clipped, points & clipped
            # one line of dots: ~10x faster to draw than a scatter of 20,000 points
            axes.plot(shown[inside], height[inside], ".", ms=2, c=colour, rasterized=True)
            for side, marker in ((1, ">"), (-1, "<")):
                edge = outside & (np.sign(lfc) == side)
                axes.scatter(shown[edge], height[edge], s=12, c=colour, marker=marker)
        axes.set_xlim(-limit * 1.05, limit * 1.05)
        if clipped.any():
            axes.text(
                0.99, 0.02, f"{int(clipped.sum())} beyond \u00b1{limit:.1f}", fontsize=5,
                ha="right", transform=axes.transAxes, color="dimgrey",
            )  # fmt: skip
        lfc = shown
        for gene, x, y in list(zip(rows["gene"].to_list(), lfc, height, strict=True))[:n_labels]:
            if np.isfinite(x) and np.isfinite(y):
                axes.annotate(gene, (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        axes.set_title(group, fontsize=8)
        axes.tick_params(labelsize=6)
        axes.axvline(0, color="grey", linewidth=0.5)
    figure.supxlabel("log2 fold change", fontsize=8)
    figure.supylabel("-log10 adjusted p", fontsize=8)
    figure.tight_layout()
    return to_data_uri(figure)
