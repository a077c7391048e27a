"""The base every result object shares: frozen, printable, convertible.

A result is a frozen dataclass. ``to_dict()`` gives plain JSON-ready Python (NaN and inf become
``None``; numpy scalars and arrays become floats and lists); ``to_frame()`` a pandas DataFrame;
``repr`` a readable summary.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, dataclasses, tuples and non-finite floats to JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def fmt(x: float | None, digits: int = 4) -> str:
    """Format a number for a printed summary ('NA' for missing)."""
    if x is None:
        return "NA"
    x = float(x)
    if math.isnan(x):
        return "NA"
    if x != 0 and (abs(x) < 10 ** -(digits) or abs(x) >= 1e7):
        return f"{x:.{digits}e}"
    return f"{x:.{digits}f}"


def fmt_p(p: float | None) -> str:
    """Format a p-value as journals print it."""
    if p is None or math.isnan(float(p)):
        return "NA"
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


class Result:
    """Mixin for frozen dataclass results: ``to_dict``, ``to_frame`` and a summary ``repr``."""

    _skip_in_dict: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name.startswith("_") or f.name in self._skip_in_dict:
                continue
            out[f.name] = jsonable(getattr(self, f.name))
        return out

    def to_frame(self):  # pragma: no cover - overridden where a table is natural
        import pandas as pd

        flat = {k: v for k, v in self.to_dict().items() if not isinstance(v, (list, dict))}
        return pd.DataFrame([flat])

    def summary_text(self) -> str:  # pragma: no cover - overridden
        return ", ".join(f"{k}={v}" for k, v in self.to_dict().items()
                         if not isinstance(v, (list, dict)))

    def __repr__(self) -> str:
        return self.summary_text()

    __str__ = __repr__


def _read_only(value: Any) -> Any:
    """A read-only copy of a numpy array (tuples of arrays element-wise); anything else as is.

    An array that is already read-only and owns its memory is kept; any other is copied, so that
    neither the result nor whoever holds the original memory can change the result's values.
    """
    if isinstance(value, np.ndarray):
        if not value.flags.writeable and value.flags.owndata:
            return value
        copy = value.copy()
        copy.setflags(write=False)
        return copy
    if isinstance(value, tuple) and any(isinstance(v, np.ndarray) for v in value):
        return tuple(_read_only(v) for v in value)
    return value


class FrozenResult(Result):
    """A Result whose numpy arrays are read-only, so a frozen result cannot change in place.

    The arrays become read-only copies: arrays the caller passed in stay writable for the caller,
    and changing them does not change the result.
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            frozen = _read_only(value)
            if frozen is not value:
                object.__setattr__(self, f.name, frozen)
