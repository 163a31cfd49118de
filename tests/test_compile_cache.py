"""Several processes compiling rgg's kernels at once into an empty cache get correct results.

Numba's cache is unsafe under concurrent compilation (numba#4807, numba#10128); rgg compiles
under an inter-process lock (``rgg.kernels._jit``). This starts processes that compile into
the same empty ``NUMBA_CACHE_DIR`` at the same moment and then compares what each computed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

WORKER = """
import sys, time
import numpy as np
from scipy import sparse
sys.path.insert(0, {tests_parent!r})
from tests._data import awkward_adata
import rgg

start_at = float(sys.argv[1])
while time.time() < start_at:  # start compiling together
    time.sleep(0.001)
# each process compiles the signatures in its own order, as parallel jobs on different data
# do: without the lock, cache entries written under the same name then hold other overloads
cases = [(dtype, make) for dtype in (np.float64, np.float32) for make in (sparse.csr_matrix, sparse.csc_matrix)]
order = range(len(cases)) if sys.argv[3] == "forward" else range(len(cases) - 1, -1, -1)
scores = {{}}
for i in order:
    dtype, make = cases[i]
    adata = awkward_adata(make, dtype)
    rgg.rank_genes_groups(adata, "group", method="wilcoxon", tie_correct=True, pts=True)
    scores[i] = np.asarray(adata.uns["rank_genes_groups"]["pvals"].tolist(), dtype=float)
np.save(sys.argv[2], np.concatenate([scores[i] for i in range(len(cases))]))
"""


def _pvals_in_this_process() -> np.ndarray:
    from scipy import sparse

    import rgg

    from ._data import awkward_adata

    scores = []
    for dtype in (np.float64, np.float32):
        for make in (sparse.csr_matrix, sparse.csc_matrix):
            adata = awkward_adata(make, dtype)
            rgg.rank_genes_groups(adata, "group", method="wilcoxon", tie_correct=True, pts=True)
            scores.append(np.asarray(adata.uns["rank_genes_groups"]["pvals"].tolist(), dtype=float))
    return np.concatenate(scores)


def test_concurrent_first_compilation(tmp_path: Path) -> None:
    import time

    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests_parent=str(Path(__file__).parents[1])))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    start_at = time.time() + 4  # after both interpreters have imported rgg
    outputs = [tmp_path / f"out{i}.npy" for i in range(2)]
    procs = [
        subprocess.Popen([sys.executable, str(script), str(start_at), str(out), order], env=env)
        for out, order in zip(outputs, ("forward", "backward"), strict=True)
    ]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    first, second = (np.load(out) for out in outputs)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, _pvals_in_this_process())
    assert (tmp_path / "numba-cache" / "rgg-compile.lock").exists()
    # and both equal a third process that loads the now-complete cache
    third = tmp_path / "out2.npy"
    subprocess.run(
        [sys.executable, str(script), "0", str(third), "forward"], env=env, check=True, timeout=600
    )
    np.testing.assert_array_equal(first, np.load(third))
