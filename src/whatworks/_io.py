"""Reading users' tables with errors that name the file, row and column.

Numbers are read by pandas' C parser first (fast: a million rows in a fraction of a second);
only a column that does not come out as finite numbers is looked at cell by cell, with a strict
rule for what a number is (ASCII digits, an optional sign, decimal point and exponent: no
``1_000``, no ``١٢`` or ``１２``, no ``inf``, nothing that overflows to infinity), so the error
can name the row and column of the first cell that is not one.
"""

from __future__ import annotations

import csv
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

#: Spellings of "no value" (compared case-insensitively after stripping spaces).
MISSING = {"", "na", "nan", "null", "none", "."}
_NA_SPELLINGS = sorted({v for m in MISSING for v in (m, m.upper(), m.title())} | {"NaN"})

#: What counts as a number in a user's file: ASCII only, finite spellings only.
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def read_table(path: str | Path, columns: Mapping[str, str] | None = None, *,
               text: Iterable[str] = ()) -> pd.DataFrame:
    """Read a CSV (or TSV by extension) with a header row; the BOM, if any, is dropped.

    Columns whose every non-missing cell is a finite number become floats (blank and the
    spellings in :data:`MISSING` become NaN); any other column stays text, stripped, with
    ``None`` for missing cells. A row with more fields than the header is refused (never read
    as an index column that would shift every column by one).

    ``columns``, if given, maps the columns wanted to the option that named them (``"--yi"``):
    only those are read (a million rows of study labels cost more than the numbers), and one
    that is not in the file is refused naming the option and listing the file's columns.

    ``text`` names identifier columns (unit, cluster, block ids) read exactly as written: never
    as numbers (``101`` stays ``"101"``, never ``"101.0"``; ``007`` and ``1e3`` stay as they are)
    and with no missing spellings (``NA`` is an id like any other); only a blank cell is missing
    (``None``). Names not in the file are ignored (the caller names its own missing columns).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file; check the path", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, not a CSV file", file=str(path))
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    options = dict(sep=sep, encoding="utf-8-sig", index_col=False, keep_default_na=False,
                   skipinitialspace=True)
    positions = None
    try:
        header = _check_first_row(path, sep)
        if columns is not None and header is not None:
            names = [h.strip() for h in header]
            for name, option in columns.items():
                if name not in names:
                    raise InputError(f"no such column (given as {option}); the columns are "
                                     f"{', '.join(names)}", file=str(path), column=name)
            positions = sorted({names.index(name) for name in columns})
            if not _fields_fit(path, sep, len(header)):
                positions = None  # quoted fields: let the full parse (and its checks) decide
        with warnings.catch_warnings():
            # with index_col=False pandas only warns (and drops the extra fields) when the first
            # row has more fields than the header; that is an error here.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, na_values=_NA_SPELLINGS, usecols=positions, **options)
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text; save it as CSV (UTF-8)", file=str(path)) from None
    except pd.errors.EmptyDataError:
        raise InputError("is empty; it needs a header row and one row per study",
                         file=str(path)) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning, _TooManyFields) as exc:
        raise _malformed(path, sep, exc) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if positions is None:
        positions = list(range(frame.shape[1]))
    reread = []
    for i in range(frame.shape[1]):
        s = frame.iloc[:, i]
        if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
            if pd.api.types.is_bool_dtype(s.dtype):
                reread.append(i)  # True/False as text, spelt as in the file
            else:
                frame.isetitem(i, _convert_column(s))
        elif pd.api.types.is_float_dtype(s.dtype) and np.isinf(s.to_numpy()).any():
            reread.append(i)  # 'inf', '1e309': keep the text so the error can quote it
        elif not pd.api.types.is_float_dtype(s.dtype):
            frame.isetitem(i, s.astype(float))
    if reread:
        cells = pd.read_csv(path, dtype=str, usecols=[positions[i] for i in reread],
                            na_values=_NA_SPELLINGS, **options)
        for j, i in enumerate(reread):
            frame.isetitem(i, _convert_column(cells.iloc[:, j]))
    ids = {text} if isinstance(text, str) else set(text)
    as_written = [i for i, c in enumerate(frame.columns) if c in ids]
    if as_written:
        raw = pd.read_csv(path, dtype=str, usecols=[positions[i] for i in as_written], **options)
        for j, i in enumerate(as_written):
            frame.isetitem(i, raw.iloc[:, j].map(lambda v: v if v.strip() else None))
    return frame


class _TooManyFields(Exception):
    """A line has more fields than the header (found by counting separators)."""


def _fields_fit(path: Path, sep: str, width: int) -> bool:
    """Whether no line has more fields than the header, counted fast (numpy over the bytes).

    Raises :class:`_TooManyFields` when one does; returns False when the file has quotes (then
    a separator may sit inside a field and only a real parse can tell).
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if (raw == ord('"')).any():
        return False
    seps = np.flatnonzero(raw == ord(sep))
    ends = np.append(np.flatnonzero(raw == ord("\n")), raw.size)
    per_line = np.diff(np.searchsorted(seps, ends), prepend=0)
    if per_line.size and per_line.max() > width - 1:
        raise _TooManyFields
    return True


def _check_first_row(path: Path, sep: str) -> list[str] | None:
    """The header; refuses a first row longer than it (pandas drops an extra empty or NA field
    there silently with ``index_col=False``, while it refuses the same on any later row)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep, skipinitialspace=True)
        try:
            header = next(reader)
            first = next((f for f in reader if f), None)
        except (csv.Error, StopIteration):
            return None  # pandas says what is wrong
    if first is not None and len(first) > len(header):
        raise InputError(f"has {len(first)} fields but the header has {len(header)}; remove the "
                         f"extra fields, or quote values that contain '{sep}'", file=str(path),
                         row=1)
    return header


def _malformed(path: Path, sep: str, exc: Exception) -> InputError:
    """One line naming the first row that does not fit the header (or pandas' reason)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=sep, skipinitialspace=True)
            header = next(reader)
            for row, fields in enumerate((f for f in reader if f), start=1):
                if len(fields) > len(header):
                    return InputError(
                        f"has {len(fields)} fields but the header has {len(header)}; remove the "
                        f"extra fields, or quote values that contain '{sep}'",
                        file=str(path), row=row)
    except (csv.Error, StopIteration, UnicodeDecodeError):
        pass
    reason = " ".join(str(exc).split())
    return InputError(f"is not a well-formed CSV ({reason})", file=str(path))


def _convert_column(s: pd.Series) -> pd.Series:
    """Numbers become floats (blank/NA become NaN); a column with any text stays text."""
    stripped = s.astype(object).where(s.notna(), None).map(
        lambda v: v.strip() if isinstance(v, str) else v)
    missing = stripped.map(lambda v: v is None or str(v).lower() in MISSING).astype(bool)
    present = stripped[~missing]
    if present.map(lambda v: isinstance(v, str) and NUMBER.fullmatch(v) is not None).all():
        numbers = present.astype(float)
        if np.isfinite(numbers.to_numpy()).all():
            out = pd.Series(np.nan, index=s.index, name=s.name)
            out[~missing] = numbers
            return out
    return stripped.where(~missing, None)


def numeric_column(frame: pd.DataFrame, column: str, *, file: str, option: str | None = None
                   ) -> np.ndarray:
    """A column as floats; names the file, row and column of the first cell that is not a number."""
    if column not in frame.columns:
        hint = f" (given as {option})" if option else ""
        raise InputError(f"no such column{hint}; the columns are {', '.join(frame.columns)}",
                         file=file, column=column)
    s = frame[column]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    out = np.full(len(s), np.nan)
    for i, value in enumerate(s):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        text = str(value).strip()
        if NUMBER.fullmatch(text) is None:
            raise InputError(f"'{value}' is not a number; enter a number (digits 0-9, a point for "
                             "decimals) or leave the cell empty", file=file, row=i + 1,
                             column=column)
        x = float(text)
        if not math.isfinite(x):
            raise InputError(f"'{value}' is too large to be a number here; enter a finite value",
                             file=file, row=i + 1, column=column)
        out[i] = x
    return out
