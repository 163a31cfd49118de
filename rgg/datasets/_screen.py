"""A small generated CRISPR screen: perturbations named after their target genes, controls."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

#: Label of the non-targeting control cells.
CONTROL = "non-targeting"


def make_screen(
    n_targets: int = 40,
    guides: int = 1,
    cells_per_perturbation: int = 25,
    n_control: int = 300,
    n_genes: int = 300,
    seed: int = 0,
) -> ad.AnnData:
    """Negative-binomial counts of a perturbation screen against non-targeting controls.

    ``n_targets`` target genes with ``guides`` perturbations each. A perturbation is named
    after its target gene (one of ``var_names``; ``GENE_g1``, ``GENE_g2``, ... with several
    guides) and knocks it down to a fifth, except every fourth, which fails (its target is
    unchanged); each also moves five other genes up or down two-fold. The last target is a
    gene that is not measured (``OFFTARGET``), as happens when a screen's library and the
    expressed genes differ. ``X`` holds log1p(counts per 10,000) as float32 CSR,
    ``layers['counts']`` the counts; obs has ``perturbation`` (categorical, the control
    first) and ``target_gene``.
    """
    rng = np.random.default_rng(seed)
    genes = [f"gene{i:04d}" for i in range(n_genes)]
    base = rng.lognormal(mean=0.5, sigma=1.0, size=n_genes)  # targets are well expressed
    chosen = list(rng.choice(n_genes, size=n_targets - 1, replace=False))
    target_names = [genes[t] for t in chosen] + ["OFFTARGET"]
    targets = [t for t in chosen for _ in range(guides)] + [-1] * guides
    labels = [
        name if guides == 1 else f"{name}_g{k}"
        for name in target_names
        for k in range(1, guides + 1)
    ]
    n_perturbations = len(labels)
    means = np.tile(base, (n_perturbations + 1, 1))  # row 0: the controls
    for position, target in enumerate(targets, start=1):
        if position % 4 and target >= 0:
            means[position, target] *= 0.2
    for position in range(1, n_perturbations + 1):
        moved = rng.choice(n_genes, size=5, replace=False)
        means[position, moved] *= rng.choice([0.5, 2.0], size=5)
    sizes = [n_control] + [cells_per_perturbation] * n_perturbations
    codes = np.repeat(np.arange(n_perturbations + 1), sizes)
    depth = rng.lognormal(mean=0.0, sigma=0.3, size=(codes.size, 1))
    mu = means[codes] * depth
    dispersion = 5.0
    counts = rng.negative_binomial(dispersion, dispersion / (dispersion + mu)).astype(np.int32)
    totals = counts.sum(axis=1, keepdims=True).clip(min=1)
    lognorm = np.log1p(counts / totals * 1e4).astype(np.float32)
    categories = [CONTROL, *labels]
    perturbation = pd.Categorical.from_codes(codes, categories=categories)
    target_of = np.asarray([CONTROL] + [name for name in target_names for _ in range(guides)])
    obs = pd.DataFrame(
        {"perturbation": perturbation, "target_gene": pd.Categorical(target_of[codes])},
        index=[f"cell{i:05d}" for i in range(codes.size)],
    )
    return ad.AnnData(
        X=sparse.csr_matrix(lognorm),
        obs=obs,
        var=pd.DataFrame(index=genes),
        layers={"counts": sparse.csr_matrix(counts)},
    )
