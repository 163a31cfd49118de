"""Seeded synthetic single-cell data for the benchmarks, cached as h5ad.

Counts are negative-binomial draws whose gene means are log-normal, placed so that about
7% of the entries are non-zero (as in 10x data). Cells fall into groups of unequal size
(1% to 25% of the cells) and a few percent of the genes are differentially expressed in
each group. ``X`` holds the counts normalised to 1e4 per cell and ``log1p``-transformed,
as CSR float32; ``layers['counts']`` holds the integer counts.

Generated files go to :data:`DEFAULT_DATA_DIR` (``$RGG_BENCH_DATA``, else
``~/.cache/rgg-bench``), outside the repository; every benchmark script uses it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import optimize, sparse

#: Target fraction of non-zero entries.
DENSITY = 0.07
#: Negative-binomial size (inverse dispersion) of every gene.
NB_SIZE = 2.0
#: Standard deviation of the natural log of the gene means.
LOG_MEAN_SD = 1.8
#: Standard deviation of the natural log of the per-cell size factors.
LOG_SIZE_FACTOR_SD = 0.4
#: Fraction of the genes differentially expressed in each group.
DE_FRACTION = 0.03
#: log2 fold changes of differentially expressed genes are uniform in this range.
DE_LOG2_FOLD = (1.0, 3.0)
#: Share of differentially expressed genes that go up (the rest go down).
DE_UP_SHARE = 0.75
#: Smallest and largest group as a fraction of the cells.
GROUP_FRACTION_RANGE = (0.01, 0.25)
#: Total counts per cell after normalisation.
TARGET_SUM = 1e4
#: Cells drawn per block. Fixed, because the random stream depends on it.
BLOCK_CELLS = 1024
#: Environment variable naming the directory of the generated data.
DATA_DIR_VARIABLE = "RGG_BENCH_DATA"


def default_data_dir() -> Path:
    """Directory of the generated data: ``$RGG_BENCH_DATA``, else ``~/.cache/rgg-bench``.

    Outside the repository: the files are hundreds of MB to tens of GB. Every benchmark
    script (``compare_scanpy.py``, ``screen.py``, ``datagen_disk.py``, ``out_of_core.py``)
    takes its default from here.
    """
    configured = os.environ.get(DATA_DIR_VARIABLE, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "rgg-bench"


#: :func:`default_data_dir` when this module was imported.
DEFAULT_DATA_DIR = default_data_dir()


@dataclass(frozen=True)
class DatasetSpec:
    """What identifies a generated dataset.

    Attributes
    ----------
    n_cells, n_genes
        Shape of the matrix.
    n_groups
        Number of cell groups (``obs['group']``).
    seed
        Seed of the random generator.
    """

    n_cells: int
    n_genes: int
    n_groups: int = 12
    seed: int = 0

    @property
    def filename(self) -> str:
        """Cache file name; it names every parameter so caches never collide."""
        return f"synthetic_{self.n_cells}x{self.n_genes}_g{self.n_groups}_s{self.seed}.h5ad"


def group_fractions(
    n_groups: int,
    smallest: float = GROUP_FRACTION_RANGE[0],
    largest: float = GROUP_FRACTION_RANGE[1],
) -> np.ndarray:
    """Group sizes as fractions of the cells, rising from ``smallest`` to ``largest``.

    The fractions are ``smallest + (largest - smallest) * t**k`` for ``t`` evenly spaced in
    [0, 1], with ``k`` solved so that they sum to one.

    Parameters
    ----------
    n_groups
        Number of groups.
    smallest, largest
        Fractions of the smallest and the largest group.

    Returns
    -------
    Fractions in increasing order, summing to one.
    """
    if not (n_groups - 1) * smallest + largest < 1 < smallest + (n_groups - 1) * largest:
        msg = (
            f"{n_groups} groups cannot range from {smallest:.0%} to {largest:.0%} of the cells "
            "and sum to 100%; choose another number of groups."
        )
        raise ValueError(msg)
    t = np.linspace(0.0, 1.0, n_groups)

    def excess(k: float) -> float:
        return float((smallest + (largest - smallest) * t**k).sum() - 1.0)

    k = optimize.brentq(excess, 1e-6, 1e6)
    return smallest + (largest - smallest) * t**k


def group_sizes(n_cells: int, fractions: np.ndarray) -> np.ndarray:
    """Round ``fractions * n_cells`` to integers that sum to ``n_cells`` (largest remainder)."""
    exact = fractions * n_cells
    sizes = np.floor(exact).astype(np.int64)
    short = n_cells - sizes.sum()
    sizes[np.argsort(sizes - exact)[:short]] += 1
    if sizes.min() < 2:
        msg = f"{n_cells} cells are too few: the smallest group would have {sizes.min()} cells."
        raise ValueError(msg)
    return sizes


def fold_changes(n_groups: int, n_genes: int, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative effect of each group on each gene's mean, shape ``(n_groups, n_genes)``.

    In every group ``DE_FRACTION`` of the genes, chosen at random, change by a log2 fold
    uniform in ``DE_LOG2_FOLD``; a share ``DE_UP_SHARE`` of them go up, the others down.
    """
    folds = np.ones((n_groups, n_genes))
    n_de = max(1, round(DE_FRACTION * n_genes))
    for group in range(n_groups):
        genes = rng.choice(n_genes, size=n_de, replace=False)
        sign = np.where(rng.random(n_de) < DE_UP_SHARE, 1.0, -1.0)
        folds[group, genes] = 2.0 ** (sign * rng.uniform(*DE_LOG2_FOLD, size=n_de))
    return folds


def nonzero_fraction(mean: np.ndarray, size: float = NB_SIZE) -> np.ndarray:
    """Probability that a negative-binomial draw with this ``mean`` and ``size`` is not zero."""
    return 1.0 - (size / (size + mean)) ** size


def calibrate_log_location(
    z: np.ndarray,
    size_factors: np.ndarray,
    folds: np.ndarray,
    fractions: np.ndarray,
    density: float = DENSITY,
) -> float:
    """Location of the log gene means that gives the expected ``density`` of non-zeros.

    Gene means are ``exp(location + LOG_MEAN_SD * z)``; the expectation averages over the
    genes, over quantiles of the size factors and over the groups weighted by their size.
    """
    factors = np.quantile(size_factors, np.linspace(0.025, 0.975, 16))

    def excess(location: float) -> float:
        gene_means = np.exp(location + LOG_MEAN_SD * z)
        by_group = (folds * gene_means)[:, :, None] * factors
        per_group = nonzero_fraction(by_group).mean(axis=(1, 2))
        return float(per_group @ fractions - density)

    return optimize.brentq(excess, -30.0, 10.0)


def draw_counts(
    labels: np.ndarray,
    size_factors: np.ndarray,
    means: np.ndarray,
    rng: np.random.Generator,
) -> sparse.csr_matrix:
    """Negative-binomial counts, drawn ``BLOCK_CELLS`` cells at a time, as CSR int32.

    Parameters
    ----------
    labels
        Group index of every cell.
    size_factors
        Per-cell scale of the mean.
    means
        Per-group gene means, shape ``(n_groups, n_genes)``.
    rng
        Random generator.
    """
    n_cells, n_genes = labels.size, means.shape[1]
    data, indices, row_nnz = [], [], []
    for start in range(0, n_cells, BLOCK_CELLS):
        rows = slice(start, min(start + BLOCK_CELLS, n_cells))
        mean = size_factors[rows, None] * means[labels[rows]]
        block = rng.negative_binomial(NB_SIZE, NB_SIZE / (NB_SIZE + mean))
        row, col = np.nonzero(block)
        data.append(block[row, col].astype(np.int32))
        indices.append(col.astype(np.int32))
        row_nnz.append(np.bincount(row, minlength=block.shape[0]))
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(row_nnz))])
    return sparse.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), indptr), shape=(n_cells, n_genes)
    )


def log_normalise(counts: sparse.csr_matrix, target_sum: float = TARGET_SUM) -> sparse.csr_matrix:
    """``log1p`` of counts scaled to ``target_sum`` per cell, as CSR float32."""
    totals = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    scale = target_sum / np.maximum(totals, 1.0)
    row_of_entry = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    values = np.log1p(counts.data * scale[row_of_entry]).astype(np.float32)
    return sparse.csr_matrix(
        (values, counts.indices.copy(), counts.indptr.copy()), shape=counts.shape
    )


def make_dataset(n_cells: int, n_genes: int, n_groups: int = 12, seed: int = 0) -> ad.AnnData:
    """Generate a seeded single-cell-like dataset.

    Parameters
    ----------
    n_cells, n_genes
        Shape of the matrix.
    n_groups
        Number of groups in ``obs['group']``, of 1% to 25% of the cells each.
    seed
        Seed; the same arguments always give the same data.

    Returns
    -------
    AnnData with log-normalised CSR float32 ``X``, integer counts in ``layers['counts']``,
    a categorical ``obs['group']`` (``g00`` smallest to ``g11`` largest) and the generator's
    parameters in ``uns['synthetic']``.
    """
    rng = np.random.default_rng(seed)
    fractions = group_fractions(n_groups)
    labels = rng.permutation(np.repeat(np.arange(n_groups), group_sizes(n_cells, fractions)))
    size_factors = np.exp(rng.normal(0.0, LOG_SIZE_FACTOR_SD, size=n_cells))
    size_factors /= size_factors.mean()
    z = rng.standard_normal(n_genes)
    folds = fold_changes(n_groups, n_genes, rng)
    location = calibrate_log_location(z, size_factors, folds, fractions)
    means = folds * np.exp(location + LOG_MEAN_SD * z)
    counts = draw_counts(labels, size_factors, means, rng)

    names = [f"g{i:02d}" for i in range(n_groups)]
    obs = pd.DataFrame(
        {"group": pd.Categorical.from_codes(labels, categories=names)},
        index=[f"cell{i}" for i in range(n_cells)],
    )
    var = pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)])
    uns = {
        "synthetic": {
            **asdict(DatasetSpec(n_cells, n_genes, n_groups, seed)),
            "density": counts.nnz / (n_cells * n_genes),
            "nb_size": NB_SIZE,
            "log_mean_location": location,
            "log_mean_sd": LOG_MEAN_SD,
            "de_fraction": DE_FRACTION,
        }
    }
    return ad.AnnData(X=log_normalise(counts), obs=obs, var=var, layers={"counts": counts}, uns=uns)


def cached_dataset(spec: DatasetSpec, data_dir: Path) -> Path:
    """Path of the h5ad for ``spec`` in ``data_dir``, generating and writing it if missing.

    The file is written under a temporary name and renamed, so an interrupted run never
    leaves a truncated cache behind.
    """
    path = data_dir / spec.filename
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        adata = make_dataset(spec.n_cells, spec.n_genes, spec.n_groups, spec.seed)
        partial = path.with_suffix(f".partial-{os.getpid()}.h5ad")
        adata.write_h5ad(partial)
        partial.replace(path)
    return path


def read_for_ranking(path: Path) -> ad.AnnData:
    """Read ``X``, ``obs`` and ``var`` of a cached dataset, skipping the counts layer."""
    import h5py
    from anndata.io import read_elem

    with h5py.File(path, "r") as file:
        return ad.AnnData(
            X=read_elem(file["X"]), obs=read_elem(file["obs"]), var=read_elem(file["var"])
        )
