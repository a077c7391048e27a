"""Systematic reviews: bibliographic records, their import, deduplication and screening.

Sub-modules (imported on first use, so ``import whatworks.review`` stays cheap):

- :mod:`whatworks.review.records` -- the record model shared by import, deduplication and screening;
- :mod:`whatworks.review.io` -- reading RIS, BibTeX, PubMed MEDLINE, EndNote XML, Web of Science and
  CSV/XLSX exports, all-or-nothing per file, with a report of what could not be read;
- :mod:`whatworks.review.dedup` -- finding and merging duplicate records, with a match probability
  per pair and a reversible merge log;
- :mod:`whatworks.review.extraction` -- extraction templates for narrative, thematic and realist
  syntheses, exportable as tables.
"""

from __future__ import annotations

import importlib

_SUBMODULES = ("records", "io", "dedup", "extraction", "screening", "cli")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
