"""scanpy's defaults for rank_genes_groups, as its active preset sets them.

scanpy 1.13 added presets (``sc.settings.preset``): under ``ScanpyV1`` (the default) a call
without ``method`` runs the t-test with fold changes from mean log values; under
``ScanpyV2Preview`` it runs the Wilcoxon test (stored as ``'wilcoxon_illico'``) with
``mean_in_log_space=False``. rgg follows the preset when scanpy is imported in the process, so
that a call inside ``with sc.settings.override(preset=...)`` means what it means in scanpy.
rgg never imports scanpy itself: without it, or with scanpy < 1.13, the defaults are
scanpy's classic ones.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class RankDefaults:
    """Defaults of the parameters a scanpy preset sets."""

    method: str = "t-test"
    mean_in_log_space: bool = True
    mask_var: str | None = None


#: scanpy's defaults before presets, and under ``Preset.ScanpyV1``.
CLASSIC = RankDefaults()
#: ``str(sc.Preset.ScanpyV2Preview)``: the preset whose default test is the illico Wilcoxon.
V2_PREVIEW = "scanpy-v2-preview"


def active_defaults() -> RankDefaults:
    """The defaults of scanpy's active preset, or :data:`CLASSIC` without scanpy >= 1.13."""
    scanpy = sys.modules.get("scanpy")
    preset = getattr(getattr(scanpy, "settings", None), "preset", None)
    rank = getattr(preset, "rank_genes_groups", None)
    if rank is None:
        return CLASSIC
    method = str(rank.method)
    if str(preset) == V2_PREVIEW and method == "wilcoxon":
        method = "wilcoxon_illico"  # what scanpy runs and stores under this preset
    return RankDefaults(
        method=method, mean_in_log_space=bool(rank.mean_in_log_space), mask_var=rank.mask_var
    )
