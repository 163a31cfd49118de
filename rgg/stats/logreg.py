"""Scores from scikit-learn's logistic regression, fitted exactly as scanpy fits it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def logreg_scores(
    x: Any,
    labels: np.ndarray,
    group_codes: list[int],
    kwds: Mapping[str, Any],
) -> list[np.ndarray]:
    """Fit ``LogisticRegression(**kwds)`` on ``x`` and return one coefficient row per group.

    Parameters
    ----------
    x
        Cells of the selected groups by tested genes (dense or sparse).
    labels
        Category code of each row of ``x``.
    group_codes
        Category codes of the selected groups, in output order.
    kwds
        Passed to :class:`sklearn.linear_model.LogisticRegression` unchanged.

    Returns
    -------
    With two groups, a single row: the coefficients of the class with the larger category
    code (scikit-learn's positive class), reported under the first group as scanpy does.
    Otherwise the row of each group's class.
    """
    from sklearn.linear_model import LogisticRegression

    try:
        clf = LogisticRegression(**kwds)
    except TypeError as error:  # an option LogisticRegression does not have
        msg = f"logreg options {dict(kwds)} are not all LogisticRegression parameters: {error}"
        raise ValueError(msg) from error
    clf.fit(x, labels)
    coef = clf.coef_
    if len(group_codes) <= 2:
        return [coef[0]]
    present = np.unique(labels)
    return [coef[int(np.argmax(present == code))] for code in group_codes]
