"""log2 fold changes: scanpy's (from mean log values) and Seurat's (from mean expm1 values)."""

from __future__ import annotations

import numpy as np


def log_fold_change(
    mean: np.ndarray, mean_other: np.ndarray, log1p_base: float | None
) -> np.ndarray:
    """``log2((expm1(mean) + 1e-9) / (expm1(mean_other) + 1e-9))``.

    ``expm1`` undoes ``log1p`` in ``log1p_base`` (natural log when ``None``), applied to the
    mean of the log values, as scanpy does. Negative data (scaled) give NaN, with numpy's
    RuntimeWarning, exactly as in scanpy.
    """
    if log1p_base is None:
        expm1 = np.expm1
    else:
        factor = np.log(log1p_base)

        def expm1(x: np.ndarray) -> np.ndarray:
            return np.expm1(x * factor)

    return np.log2((expm1(mean) + 1e-9) / (expm1(mean_other) + 1e-9))


def expm1_mean_fold_change(mean_expm1: np.ndarray, mean_expm1_other: np.ndarray) -> np.ndarray:
    """Seurat's ``log2(mean(expm1(x)) + 1) - log2(mean(expm1(y)) + 1)``.

    The means are of the normalised values recovered cell by cell (``expm1`` of the log
    values), not ``expm1`` of the mean log value as in scanpy (scanpy issue 864).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log2(mean_expm1 + 1.0) - np.log2(mean_expm1_other + 1.0)
