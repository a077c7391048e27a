"""Reading users' tables with errors that name the file, row and column."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (or TSV by extension) with a header row; the BOM, if any, is dropped."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file; check the path", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, not a CSV file", file=str(path))
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig", dtype=str, keep_default_na=False,
                            skipinitialspace=True)
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text; save it as CSV (UTF-8)", file=str(path)) from None
    except pd.errors.EmptyDataError:
        raise InputError("is empty; it needs a header row and one row per study",
                         file=str(path)) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"is not a well-formed CSV ({exc})", file=str(path)) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.apply(_convert_column)


MISSING = {"", "na", "nan", "null", "none", "."}


def _convert_column(s: pd.Series) -> pd.Series:
    """Numbers become floats (blank/NA become NaN); a column with any text stays text."""
    stripped = s.str.strip()
    missing = stripped.str.lower().isin(MISSING)
    numbers = pd.to_numeric(stripped.where(~missing), errors="coerce")
    if numbers.notna().sum() == (~missing).sum():
        return numbers.astype(float)
    return stripped.where(~missing, None)


def numeric_column(frame: pd.DataFrame, column: str, *, file: str, option: str | None = None
                   ) -> np.ndarray:
    """A column as floats; names the file, row and column of the first cell that is not a number."""
    if column not in frame.columns:
        hint = f" (given as {option})" if option else ""
        raise InputError(f"no such column{hint}; the columns are {', '.join(frame.columns)}",
                         file=file, column=column)
    s = frame[column]
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float)
    for i, value in enumerate(s):
        if value is None:
            continue
        try:
            x = float(value)
        except ValueError:
            raise InputError(f"'{value}' is not a number; enter a number or leave the cell empty",
                             file=file, row=i + 1, column=column) from None
        if math.isnan(x):
            continue
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
