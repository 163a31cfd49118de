"""The HTML report: results, plots and provenance of a workflow run, in one offline file."""

from __future__ import annotations

from .build import build_report

__all__ = ["build_report"]
