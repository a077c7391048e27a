"""Turning column names or arrays into checked float arrays, with errors that name row and column.

Each argument of :func:`whatworks.effects.escalc` is either the name of a column in ``data``
or an array-like (a scalar is repeated for every row). Values become float arrays; empty
cells and the usual missing-value spellings become ``NaN``; text raises
:class:`~whatworks.errors.InputError` naming the 1-based data row and the column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from whatworks.errors import InputError, ParameterError

#: Text that means "no value" in a numeric column (besides an empty cell).
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "."})

# What each kind of argument may hold: (test that a value is allowed, what to tell the user).
_ROLE_RULES = {
    "count": (lambda v: v >= 0, "is a count and cannot be negative"),
    "size": (lambda v: v >= 1, "is a sample size and must be at least 1"),
    "sd": (lambda v: v > 0,
           "is a standard deviation and must be greater than 0 (if a standard error was "
           "reported, convert it: sd = se * sqrt(n))"),
    "time": (lambda v: v > 0, "is a person-time at risk and must be greater than 0"),
    "corr": (lambda v: (v >= -1) & (v <= 1), "is a correlation and must lie between -1 and 1"),
    "p": (lambda v: (np.abs(v) > 0) & (np.abs(v) <= 1),
          "is a two-sided p-value and must be greater than 0 and at most 1 (give it a minus "
          "sign, or use the sign argument, when the effect favours group 2)"),
    "f": (lambda v: v >= 0, "is an F statistic and cannot be negative"),
    "predictors": (lambda v: v >= 1,
                   "is the number of predictors in the regression model (counting the one of "
                   "interest) and must be at least 1"),
    "sign": (lambda v: v != 0, "gives the direction of the effect and must be +1 or -1, not 0"),
    "mean": (lambda v: np.ones_like(v, dtype=bool), ""),
    "stat": (lambda v: np.ones_like(v, dtype=bool), ""),
    "se": (lambda v: v > 0, "is a standard error and must be greater than 0"),
}


def as_float(raw: object, *, name: str, label: str, n: int | None) -> np.ndarray:
    """Convert one argument's values to a float array, raising on text.

    ``name`` is the escalc argument, ``label`` what the user calls it (the column name when the
    argument named a column), ``n`` the expected length (``None``: any length).
    """
    if np.ndim(raw) == 0:
        raw = [raw] * (1 if n is None else n)
    series = pd.Series(list(raw) if not isinstance(raw, (pd.Series, np.ndarray)) else raw)
    if n is not None and len(series) != n:
        raise InputError(f"argument {name} has {len(series)} values but the data have {n} rows; "
                         "give one value per row", column=label)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=float)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    text = series.astype("object")
    missing = text.isna() | text.map(
        lambda v: isinstance(v, str) and v.strip().lower() in MISSING_TOKENS)
    numbers = pd.to_numeric(text.where(~missing, np.nan), errors="coerce")
    bad = numbers.isna() & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{name} must be a number but the cell holds the text {text.iloc[i]!r}; "
                         "correct it, or leave the cell empty if the value is missing",
                         row=i + 1, column=label)
    return numbers.to_numpy(dtype=float)


@dataclass(frozen=True)
class Inputs:
    """The resolved arguments of one escalc call: float arrays plus the names users know them by."""

    values: Mapping[str, np.ndarray]
    labels: Mapping[str, str]
    n: int

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    def get(self, name: str) -> np.ndarray | None:
        return self.values.get(name)

    def fail_where(self, bad: np.ndarray, name: str, message: str) -> None:
        """Raise InputError at the first row where ``bad`` is true (rows with NaN never fail)."""
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = self.values[name][i]
            raise InputError(f"{name} = {value:g} {message}", row=i + 1, column=self.labels[name])

    def check_roles(self, roles: Mapping[str, str]) -> None:
        """Check every given argument against the rule for its role (NaN is left for later)."""
        for name, values in self.values.items():
            finite = np.isfinite(values)
            self.fail_where(np.isinf(values), name, "is not a finite number; enter a finite value")
            rule = _ROLE_RULES[roles[name]]
            ok = np.ones_like(finite)
            with np.errstate(invalid="ignore"):
                ok[finite] = rule[0](values[finite])
            self.fail_where(~ok, name, rule[1])


def resolve(arguments: Mapping[str, object], data: pd.DataFrame | None) -> Inputs:
    """Resolve escalc arguments (column names or array-likes) into an :class:`Inputs`."""
    if data is not None and not isinstance(data, pd.DataFrame):
        raise ParameterError("data", type(data).__name__, "a pandas DataFrame or None")
    n = None if data is None else len(data)
    if n is None:
        lengths = {len(v) for v in arguments.values()
                   if np.ndim(v) > 0 and not isinstance(v, str)}
        if len(lengths) > 1:
            raise InputError("the arguments have different lengths "
                             f"({', '.join(str(x) for x in sorted(lengths))}); "
                             "give one value per study for every argument")
        n = lengths.pop() if lengths else 1
    values, labels = {}, {}
    for name, raw in arguments.items():
        label = name
        if isinstance(raw, str):
            if data is None:
                raise ParameterError(name, raw, "an array of numbers, or a column name together "
                                     "with data=")
            if raw not in data.columns:
                raise InputError(f"argument {name} names column '{raw}', which is not in the data; "
                                 f"the columns are: {', '.join(map(str, data.columns))}",
                                 column=raw)
            label, raw = raw, data[raw]
        values[name] = as_float(raw, name=name, label=label, n=n)
        labels[name] = label
    return Inputs(values=values, labels=labels, n=n)
