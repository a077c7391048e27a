"""Warnings the effects package gives (a missing value is a warning, never a crash)."""

from __future__ import annotations

import warnings

from ..errors import WhatWorksWarning

__all__ = ["WhatWorksWarning", "warn"]


def warn(message: str) -> None:
    """Issue a :class:`WhatWorksWarning` pointing at the caller of the public function."""
    warnings.warn(message, WhatWorksWarning, stacklevel=3)
