"""scanpy's log2 fold change: from mean log-expression values, with a 1e-9 pseudo-count."""

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
