"""Scores from scikit-learn's logistic regression, fitted as scanpy fits it (sparse data with BLAS
on one thread)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

_sparse_fit_lock = threading.RLock()


def logreg_scores(
    x: Any,
    labels: np.ndarray,
    group_codes: list[int],
    kwds: Mapping[str, Any],
) -> list[np.ndarray]:
    """Fit ``LogisticRegression(**kwds)`` on ``x`` and return one coefficient row per group.

    Sparse ``x`` is fitted with BLAS on one thread (see :func:`blas_on_one_thread`): the
    coefficients are then scikit-learn's with one BLAS thread, bit for bit, whatever the
    machine's core count, and within a few units in the last place of a fit with
    threaded BLAS. Dense ``x`` keeps threaded BLAS, which does its products.

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
    scope = blas_on_one_thread() if sparse.issparse(x) else contextlib.nullcontext()
    with scope:
        clf.fit(x, labels)
    coef = clf.coef_
    if len(group_codes) <= 2:
        return [coef[0]]
    present = np.unique(labels)
    return [coef[int(np.argmax(present == code))] for code in group_codes]


@contextlib.contextmanager
def blas_on_one_thread() -> Iterator[None]:
    """Run the body with every loaded BLAS library limited to one thread.

    With sparse data, BLAS only sees the optimiser's vector operations (L-BFGS updates, the
    L2 norm); the products run on rgg's threads. Threaded BLAS gains nothing there and costs
    twice:

    - A threaded dot product sums in another order than a serial one, so the fit, and the
      coefficients in their last bits, would depend on how many cores the machine has.
    - After each call OpenBLAS's idle workers keep spinning for a while (its
      ``OPENBLAS_THREAD_TIMEOUT``), each on a core that rgg's next product needs: at
      50k x 20k the fit took 7.5 s instead of 5.8 s on two cores.

    The limit is process-wide, and threadpoolctl lets only one Python thread at a time set
    it (the one that lifts it again), so bodies run one at a time. The products inside
    already use every core: overlapping two fits would gain little. If another thread holds
    a threadpoolctl limit of its own, threadpoolctl may keep that one, and the fit runs under it.
    """
    with _sparse_fit_lock, threadpool_limits(limits=1, user_api="blas"):
        yield
