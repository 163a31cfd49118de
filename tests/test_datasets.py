"""Bundled datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rgg import datasets


def test_bundled_synthetic_file_is_what_the_generator_makes() -> None:
    bundled, made = datasets.synthetic(), datasets.make_synthetic()
    np.testing.assert_array_equal(bundled.X.toarray(), made.X.toarray())
    np.testing.assert_array_equal(
        bundled.layers["counts"].toarray(), made.layers["counts"].toarray()
    )
    pd.testing.assert_frame_equal(bundled.obs, made.obs)
    assert bundled.obs["cell_type"].value_counts()["DC"] == 30
    assert {"CD4+/CD8+ T", "Mono/Macro", "B cell"} <= set(bundled.obs["cell_type"].cat.categories)


def test_bundled_screen_file_is_what_the_generator_makes() -> None:
    bundled, made = datasets.screen(), datasets.make_screen()
    np.testing.assert_array_equal(bundled.X.toarray(), made.X.toarray())
    np.testing.assert_array_equal(
        bundled.layers["counts"].toarray(), made.layers["counts"].toarray()
    )
    pd.testing.assert_frame_equal(bundled.obs, made.obs)
    labels = bundled.obs["perturbation"].cat.categories
    assert labels[0] == "non-targeting"
    measured = [label for label in labels[1:] if label in bundled.var_names]
    assert len(measured) == len(labels) - 2  # every perturbation but OFFTARGET
