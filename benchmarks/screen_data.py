"""Seeded, screen-shaped data: a CRISPR perturbation screen (Perturb-seq) or a fine atlas.

Many small groups (perturbations, ~50 cells each) beside one large control group of
non-targeting cells, deeply sequenced (about half the entries non-zero, as in the
K562-essential screen of Replogle et al. 2022). Each perturbation knocks its target gene down
(log2 fold -1 to -3) and moves a few other genes (``RESPONSE_GENES``, log2 fold +-1 to 2).
Only the non-zero entries are drawn, one block of cells at a time, with the sampler of
:mod:`benchmarks.datagen_disk`, and written straight to an h5ad file, so the full
K562-essential shape (300k x 8.5k, ~1.2 G non-zeros) takes minutes and a few GB.

``X`` is ``log1p`` of the counts normalised to 1e4 per cell, CSR float32 (no counts layer).
``obs['perturbation']`` is categorical: the control label first, then one label per
perturbation, named after its target gene (``var_names``); ``obs['target_gene']`` holds the
target (the control label for control cells).

    python benchmarks/screen_data.py --cells 60000 --genes 8000 --perturbations 1000
    python benchmarks/screen_data.py --cells 300000 --genes 8500 --perturbations 2000
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

try:
    from benchmarks import datagen, datagen_disk
except ImportError:  # run as a script
    import datagen  # type: ignore[no-redef]
    import datagen_disk  # type: ignore[no-redef]

#: Label of the non-targeting control cells.
CONTROL = "non-targeting"
#: Genes (besides the target) each perturbation moves.
RESPONSE_GENES = 20
#: Standard deviation of the natural log of gene means: deeply sequenced cells detect most
#: genes, so their means spread less than in 10x data of :mod:`benchmarks.datagen`.
LOG_MEAN_SD = 1.2
#: Default directory of the generated files (``$RGG_BENCH_DATA``, else
#: ``~/.cache/rgg-bench``): outside the repository (they are GBs).
DEFAULT_DATA_DIR = datagen.DEFAULT_DATA_DIR


@dataclass(frozen=True)
class ScreenSpec:
    """What identifies a generated screen.

    Attributes
    ----------
    n_cells, n_genes
        Shape of the matrix.
    n_perturbations
        Number of perturbation groups (the control is one more group).
    control_fraction
        Share of the cells that are controls.
    density
        Target fraction of non-zero entries.
    seed
        Seed of every random draw.
    """

    n_cells: int
    n_genes: int
    n_perturbations: int
    control_fraction: float = 0.1
    density: float = 0.46
    seed: int = 0

    @property
    def filename(self) -> str:
        """File name that names every parameter, so generated files never collide."""
        return (
            f"screen_{self.n_cells}x{self.n_genes}_p{self.n_perturbations}"
            f"_c{self.control_fraction:g}_d{self.density:g}_s{self.seed}.h5ad"
        )


def gene_names(n_genes: int) -> list[str]:
    """``GENE00000``, ``GENE00001``, ..."""
    width = max(5, len(str(n_genes - 1)))
    return [f"GENE{j:0{width}d}" for j in range(n_genes)]


def cell_labels(spec: ScreenSpec, rng: np.random.Generator) -> np.ndarray:
    """Group index of every cell in random order: 0 the control, 1.. the perturbations.

    Perturbations get unequal sizes (multinomial, with gamma-distributed weights of shape 4,
    as guides are not taken up equally), at least 3 cells each.
    """
    n_control = round(spec.control_fraction * spec.n_cells)
    n_perturbed = spec.n_cells - n_control
    if n_perturbed < 3 * spec.n_perturbations:
        msg = (
            f"{spec.n_cells} cells are too few for {spec.n_perturbations} perturbations of "
            "at least 3 cells; lower --perturbations or --control-fraction."
        )
        raise ValueError(msg)
    weights = rng.gamma(4.0, size=spec.n_perturbations)
    extra = rng.multinomial(n_perturbed - 3 * spec.n_perturbations, weights / weights.sum())
    sizes = np.concatenate([[n_control], 3 + extra])
    return rng.permutation(np.repeat(np.arange(sizes.size), sizes))


def group_means(spec: ScreenSpec, rng: np.random.Generator, labels: np.ndarray):
    """Per-group gene means ``(n_perturbations + 1, n_genes)`` and each perturbation's target."""
    if spec.n_perturbations > spec.n_genes:
        msg = "every perturbation targets its own gene: use at most --genes perturbations."
        raise ValueError(msg)
    n_groups = spec.n_perturbations + 1
    targets = rng.choice(spec.n_genes, size=spec.n_perturbations, replace=False)
    folds = np.ones((n_groups, spec.n_genes))
    for p, target in enumerate(targets, start=1):
        response = rng.choice(spec.n_genes, size=RESPONSE_GENES, replace=False)
        sign = np.where(rng.random(RESPONSE_GENES) < 0.5, 1.0, -1.0)
        folds[p, response] = 2.0 ** (sign * rng.uniform(1.0, 2.0, RESPONSE_GENES))
        folds[p, target] = 2.0 ** -rng.uniform(1.0, 3.0)
    z = rng.standard_normal(spec.n_genes)
    fractions = np.bincount(labels, minlength=n_groups) / labels.size

    def density_at(location: float) -> float:
        means = folds * np.exp(location + LOG_MEAN_SD * z)
        return float(fractions @ datagen.nonzero_fraction(means).mean(axis=1))

    low, high = -30.0, 15.0  # bisection: density rises with the location
    for _ in range(100):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if density_at(mid) < spec.density else (low, mid)
    return folds * np.exp(low + LOG_MEAN_SD * z), targets


def write_screen(path: Path, spec: ScreenSpec, *, verbose: bool = True) -> Path:
    """Generate the screen and write it to ``path`` (complete, or not at all)."""
    rng = np.random.default_rng(spec.seed)
    labels = cell_labels(spec, rng).astype(np.int64)
    means, targets = group_means(spec, rng, labels)
    p_nonzero = datagen.nonzero_fraction(means)
    positive_mean = np.maximum(means / np.maximum(p_nonzero, 1e-300) - 1.0, 0.0)

    genes = gene_names(spec.n_genes)
    categories = [CONTROL] + [genes[t] for t in targets]
    perturbation = pd.Categorical.from_codes(labels, categories=categories)
    obs = pd.DataFrame(
        {"perturbation": perturbation, "target_gene": np.asarray(categories, dtype=object)[labels]},
        index=[f"cell{i}" for i in range(spec.n_cells)],
    )
    var = pd.DataFrame(index=genes)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    path.parent.mkdir(parents=True, exist_ok=True)
    ad.AnnData(obs=obs, var=var, uns={"screen": {**spec.__dict__, "control": CONTROL}}).write_h5ad(
        partial
    )
    started = time.perf_counter()
    # as many non-zeros per block as datagen_disk's blocks of 7% non-zero cells
    block_cells = int(max(256, datagen_disk.BLOCK_CELLS * 0.07 // spec.density))

    def blocks() -> Iterator[tuple[int, int, sparse.csr_matrix]]:
        for b, start in enumerate(range(0, spec.n_cells, block_cells)):
            stop = min(start + block_cells, spec.n_cells)
            seed = spec.seed * 1_000_003 + b
            yield (
                start,
                stop,
                datagen_disk._block(labels[start:stop], p_nonzero, positive_mean, seed),
            )

    def progress(b: int, stop: int, nnz: int) -> None:
        if verbose and b % 10 == 0:
            print(f"{stop:>10,} cells {nnz:>15,} non-zeros "
                  f"{time.perf_counter() - started:6.0f} s", flush=True)  # fmt: skip

    nnz = datagen_disk.write_csr_x(partial, (spec.n_cells, spec.n_genes), blocks(), progress)
    os.replace(partial, path)
    if verbose:
        print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB, "
              f"density {nnz / spec.n_cells / spec.n_genes:.3f})")  # fmt: skip
    return path


def cached_screen(spec: ScreenSpec, data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    """Path of the screen's h5ad in ``data_dir``, generating it first if missing."""
    path = Path(data_dir) / spec.filename
    return path if path.exists() else write_screen(path, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=60_000)
    parser.add_argument("--genes", type=int, default=8_000)
    parser.add_argument("--perturbations", type=int, default=1_000)
    parser.add_argument("--control-fraction", type=float, default=0.1)
    parser.add_argument("--density", type=float, default=0.46)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR,
        help="where the file goes (default: $RGG_BENCH_DATA or ~/.cache/rgg-bench)",
    )  # fmt: skip
    args = parser.parse_args()
    spec = ScreenSpec(
        args.cells, args.genes, args.perturbations, args.control_fraction, args.density, args.seed
    )
    print(cached_screen(spec, args.data_dir))


if __name__ == "__main__":
    main()
